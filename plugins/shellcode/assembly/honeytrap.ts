// honeytrap-ts plugin helpers for AssemblyScript, written by
// `honeytrap-plugin new wasm` (@honeytrap/sdk 0.1.0, host API ^1.0.0).
//
// analyze() gets the task as JSON text (an attack string, or an artifact and
// the attack it came from; see PluginTaskInput in @honeytrap/sdk) and returns
// JSON text ({"findings": [...], "artifacts": [...]}). These helpers read the
// few fields a plugin needs without a JSON library and write the result.
// The host grants a wasm plugin no imports but its memory, the runtime's
// abort/trace/seed and honeytrap.log: no clock, no files, no network.

/** One line in the daemon's log, attributed to the plugin (bounded per task). */
@external("honeytrap", "log")
export declare function log(message: string): void;

// ---- reading the input ----

function skipWs(s: string, i: i32): i32 {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
    i++;
  }
  return i;
}

/** i at the opening quote; returns the index after the closing quote. */
function skipString(s: string, i: i32): i32 {
  i++;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c == 0x5c) i += 2;
    else if (c == 0x22) return i + 1;
    else i++;
  }
  return s.length;
}

/** Returns the index after the JSON value that starts at (or after white space from) i. */
function skipValue(s: string, i: i32): i32 {
  i = skipWs(s, i);
  const c = s.charCodeAt(i);
  if (c == 0x22) return skipString(s, i);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (i < s.length) {
      const ch = s.charCodeAt(i);
      if (ch == 0x22) {
        i = skipString(s, i);
        continue;
      }
      if (ch == 0x7b || ch == 0x5b) depth++;
      else if (ch == 0x7d || ch == 0x5d) {
        depth--;
        if (depth == 0) return i + 1;
      }
      i++;
    }
    return s.length;
  }
  while (i < s.length) {
    const ch = s.charCodeAt(i);
    if (ch == 0x2c || ch == 0x7d || ch == 0x5d || ch <= 0x20) break;
    i++;
  }
  return i;
}

/** In the object at i ('{'), where the value of `key` starts, or -1. */
function member(s: string, i: i32, key: string): i32 {
  i = skipWs(s, i);
  if (s.charCodeAt(i) != 0x7b) return -1;
  i++;
  while (i < s.length) {
    i = skipWs(s, i);
    if (s.charCodeAt(i) != 0x22) return -1;
    const keyEnd = skipString(s, i);
    const k = s.substring(i + 1, keyEnd - 1);
    i = skipWs(s, keyEnd);
    if (s.charCodeAt(i) != 0x3a) return -1;
    const value = skipWs(s, i + 1);
    if (k == key) return value;
    i = skipWs(s, skipValue(s, value));
    if (s.charCodeAt(i) != 0x2c) return -1;
    i++;
  }
  return -1;
}

/** Where the value at a dotted path ("attack.received.data") starts, or -1. */
function locate(json: string, path: string): i32 {
  let at = skipWs(json, 0);
  const keys = path.split(".");
  for (let k = 0; k < keys.length; k++) {
    at = member(json, at, keys[k]);
    if (at < 0) return -1;
  }
  return at;
}

function hex(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return 0;
}

/** The JSON text of the value at a dotted path, or null when there is none. */
export function jsonRaw(json: string, path: string): string | null {
  const at = locate(json, path);
  if (at < 0) return null;
  return json.substring(at, skipValue(json, at));
}

/** The string at a dotted path ("config.marker"), unescaped; null when absent or not a string. */
export function jsonString(json: string, path: string): string | null {
  const at = locate(json, path);
  if (at < 0 || json.charCodeAt(at) != 0x22) return null;
  const end = skipString(json, at) - 1;
  const raw = json.substring(at + 1, end);
  if (raw.indexOf("\\") < 0) return raw;
  const units = new Array<i32>();
  for (let i = at + 1; i < end; i++) {
    let c = json.charCodeAt(i);
    if (c == 0x5c) {
      i++;
      c = json.charCodeAt(i);
      if (c == 0x6e) c = 0x0a;
      else if (c == 0x72) c = 0x0d;
      else if (c == 0x74) c = 0x09;
      else if (c == 0x62) c = 0x08;
      else if (c == 0x66) c = 0x0c;
      else if (c == 0x75) {
        c =
          (hex(json.charCodeAt(i + 1)) << 12) |
          (hex(json.charCodeAt(i + 2)) << 8) |
          (hex(json.charCodeAt(i + 3)) << 4) |
          hex(json.charCodeAt(i + 4));
        i += 4;
      }
    }
    units.push(c);
  }
  return String.fromCharCodes(units);
}

/** The number at a dotted path ("attack.local.port"), or `fallback`. */
export function jsonNumber(json: string, path: string, fallback: f64 = 0): f64 {
  const raw = jsonRaw(json, path);
  if (raw === null) return fallback;
  const n = parseFloat(raw);
  return isNaN(n) ? fallback : n;
}

function b64(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x47;
  if (c >= 0x30 && c <= 0x39) return c + 4;
  if (c == 0x2b || c == 0x2d) return 62;
  if (c == 0x2f || c == 0x5f) return 63;
  return -1;
}

/** Decodes base64 (padding and white space ignored). */
export function base64Decode(text: string): Uint8Array {
  const out = new Uint8Array((text.length * 3) >> 2);
  let acc: u32 = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const v = b64(text.charCodeAt(i));
    if (v < 0) continue;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = <u8>((acc >> bits) & 0xff);
    }
  }
  return out.subarray(0, n);
}

/** The bytes the attacker sent (attack.received.data, decoded). */
export function receivedBytes(input: string): Uint8Array {
  const data = jsonString(input, "attack.received.data");
  return data === null ? new Uint8Array(0) : base64Decode(data);
}

/** The bytes sent back to the attacker (attack.sent.data, decoded). */
export function sentBytes(input: string): Uint8Array {
  const data = jsonString(input, "attack.sent.data");
  return data === null ? new Uint8Array(0) : base64Decode(data);
}

/** In an artifact task, the artifact's bytes; empty otherwise. */
export function artifactBytes(input: string): Uint8Array {
  const data = jsonString(input, "artifact.data");
  return data === null ? new Uint8Array(0) : base64Decode(data);
}

/** Bytes as text, one character per byte (latin1): string offsets are byte offsets. */
export function latin1(bytes: Uint8Array): string {
  const units = new Uint16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) units[i] = bytes[i];
  return String.UTF16.decode(units.buffer);
}

/** The received bytes as latin1 text. */
export function receivedText(input: string): string {
  return latin1(receivedBytes(input));
}

// ---- writing the result ----

/** A JSON string literal for s. */
export function jsonQuote(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(from, i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    from = i + 1;
  }
  return out + s.substring(from) + '"';
}

/**
 * One finding as JSON. type: url, decoded-payload, hash, signature, command,
 * download, file-type, note or x-<name>; offset: the byte offset where it was
 * found (omitted when negative).
 */
export function finding(type: string, value: string, offset: i32 = -1): string {
  let out = '{"type":' + jsonQuote(type) + ',"value":' + jsonQuote(value);
  if (offset >= 0) out += ',"offset":' + offset.toString();
  return out + "}";
}

/** analyze()'s return value: findings made with finding(). */
export function output(findings: string[]): string {
  return '{"findings":[' + findings.join(",") + "]}";
}
