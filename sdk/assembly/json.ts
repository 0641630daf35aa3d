// Reading the task's JSON without a JSON library: the value at a dotted path
// ("attack.received.data"). The walk reads the string's memory directly: a
// charCodeAt() per character costs more than a whole scan on a 64 KB attack.
// Not a general parser: keys are compared as written (no escapes in keys).

/** The UTF-16 code unit at index i of the string whose data starts at p. */
@inline
export function unitAt(p: usize, i: i32): i32 {
  return <i32>load<u16>(p + (<usize>i << 1));
}

function skipWs(p: usize, n: i32, i: i32): i32 {
  while (i < n) {
    const c = unitAt(p, i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
    i++;
  }
  return i;
}

/** i at the opening quote; returns the index after the closing quote. */
function skipString(p: usize, n: i32, i: i32): i32 {
  i++;
  while (i < n) {
    const c = unitAt(p, i);
    if (c == 0x5c) i += 2;
    else if (c == 0x22) return i + 1;
    else i++;
  }
  return n;
}

/** Returns the index after the JSON value that starts at (or after white space from) i. */
function skipValue(p: usize, n: i32, i: i32): i32 {
  i = skipWs(p, n, i);
  if (i >= n) return n;
  const c = unitAt(p, i);
  if (c == 0x22) return skipString(p, n, i);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (i < n) {
      const x = unitAt(p, i);
      if (x == 0x22) {
        i = skipString(p, n, i);
        continue;
      }
      if (x == 0x7b || x == 0x5b) depth++;
      else if (x == 0x7d || x == 0x5d) {
        depth--;
        if (depth == 0) return i + 1;
      }
      i++;
    }
    return n;
  }
  while (i < n) {
    const x = unitAt(p, i);
    if (x == 0x2c || x == 0x7d || x == 0x5d || x <= 0x20) break;
    i++;
  }
  return i;
}

/** Whether the key string at i (opening quote) .. end (after the closing quote) is path[from, to). */
function keyIs(p: usize, i: i32, end: i32, path: string, from: i32, to: i32): bool {
  if (end - i - 2 != to - from) return false;
  for (let k = from; k < to; k++) if (unitAt(p, i + 1 + k - from) != path.charCodeAt(k)) return false;
  return true;
}

/** In the object at i ('{'), where the value of the key path[from, to) starts, or -1. */
function member(p: usize, n: i32, i: i32, path: string, from: i32, to: i32): i32 {
  i = skipWs(p, n, i);
  if (i >= n || unitAt(p, i) != 0x7b) return -1;
  i++;
  while (i < n) {
    i = skipWs(p, n, i);
    if (i >= n || unitAt(p, i) != 0x22) return -1;
    const keyEnd = skipString(p, n, i);
    const found = keyIs(p, i, keyEnd, path, from, to);
    i = skipWs(p, n, keyEnd);
    if (i >= n || unitAt(p, i) != 0x3a) return -1;
    const value = skipWs(p, n, i + 1);
    if (found) return value;
    i = skipWs(p, n, skipValue(p, n, value));
    if (i >= n || unitAt(p, i) != 0x2c) return -1;
    i++;
  }
  return -1;
}

/**
 * Where the value at a dotted path ("attack.received.data") starts in json,
 * or -1: for reading a large value in place (changetype<usize>(json) is where
 * the string's code units start) instead of copying it out.
 */
export function jsonLocate(json: string, path: string): i32 {
  const p = changetype<usize>(json);
  const n = json.length;
  let at = skipWs(p, n, 0);
  let from = 0;
  while (at >= 0) {
    let to = path.indexOf(".", from);
    if (to < 0) to = path.length;
    at = member(p, n, at, path, from, to);
    if (to == path.length) break;
    from = to + 1;
  }
  return at;
}

/** The JSON text of the value at a dotted path ("config"), or null when there is none. */
export function jsonRaw(json: string, path: string): string | null {
  const at = jsonLocate(json, path);
  if (at < 0) return null;
  return json.substring(at, skipValue(changetype<usize>(json), json.length, at));
}

function hex(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return 0;
}

/** The string at a dotted path ("config.marker"), unescaped; null when absent or not a string. */
export function jsonString(json: string, path: string): string | null {
  const at = jsonLocate(json, path);
  if (at < 0 || json.charCodeAt(at) != 0x22) return null;
  const end = skipString(changetype<usize>(json), json.length, at) - 1;
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

/** The boolean at a dotted path ("config.verbose"), or `fallback` when it is absent or not a boolean. */
export function jsonBool(json: string, path: string, fallback: bool = false): bool {
  const raw = jsonRaw(json, path);
  if (raw === null) return fallback;
  if (raw == "true") return true;
  if (raw == "false") return false;
  return fallback;
}
