// Finding encoded runs in bytes: base64 (standard and URL-safe, also
// line-wrapped and with %2B/%2F/%3D in URLs), %uXXXX, \uXXXX and \xNN runs.
// One left-to-right pass; runs never overlap.

export const KIND_BINARY: i32 = 0;
/** ASCII or UTF-8 text (a few stray bytes allowed, see minTextRatio). */
export const KIND_TEXT: i32 = 1;
/** UTF-16LE text (PowerShell -EncodedCommand and the like). */
export const KIND_UTF16: i32 = 2;

export class Config {
  base64: bool = true;
  base64url: bool = true;
  percentU: bool = true;
  backslashU: bool = true;
  hexEscape: bool = true;
  minBase64Length: i32 = 16;
  minBinaryBase64Length: i32 = 64;
  minTextRatio: f64 = 0.95;
  minDecodedBytes: i32 = 6;
  minUnicodeUnits: i32 = 4;
  minHexEscapes: i32 = 8;
  maxDepth: i32 = 3;
  maxPayloads: i32 = 50;
  maxValueChars: i32 = 512;
  maxOutputBytes: i32 = 786432;
}

export class Hit {
  /** Where the encoded run starts in the scanned bytes. */
  offset: i32 = 0;
  /** Its length in the scanned bytes (padding and escapes included). */
  length: i32 = 0;
  /** base64, base64url, percent-u, backslash-u, hex-escape */
  encoding: string = "";
  /** For %u and \u: "chars" (every unit < 0x100, one byte each) or "utf16le" (two bytes each). */
  layout: string = "";
  data: Uint8Array = new Uint8Array(0);
  kind: i32 = KIND_BINARY;
  /** Binary of no known file type. */
  opaque: bool = false;
}

/** How many separators of one run are tried as the start of the payload. */
const MAX_SUFFIX_TRIES = 16;

// Character classes of the base64 alphabets.
const C_NONE: u8 = 0;
const C_UPPER: u8 = 1;
const C_LOWER: u8 = 2;
const C_DIGIT: u8 = 3;
const C_PLUS: u8 = 4;
const C_SLASH: u8 = 5;
const C_DASH: u8 = 6;
const C_UNDER: u8 = 7;

const CLASS = new StaticArray<u8>(256);
const VALUE = new StaticArray<u8>(256);
const HEXV = new StaticArray<i8>(256);

function initTables(): void {
  for (let c = 0; c < 256; c++) {
    HEXV[c] = -1;
    CLASS[c] = C_NONE;
  }
  for (let c = 0x41; c <= 0x5a; c++) {
    CLASS[c] = C_UPPER;
    VALUE[c] = <u8>(c - 0x41);
  }
  for (let c = 0x61; c <= 0x7a; c++) {
    CLASS[c] = C_LOWER;
    VALUE[c] = <u8>(c - 0x61 + 26);
  }
  for (let c = 0x30; c <= 0x39; c++) {
    CLASS[c] = C_DIGIT;
    VALUE[c] = <u8>(c - 0x30 + 52);
    HEXV[c] = <i8>(c - 0x30);
  }
  for (let c = 0; c < 6; c++) {
    HEXV[0x41 + c] = <i8>(10 + c);
    HEXV[0x61 + c] = <i8>(10 + c);
  }
  CLASS[0x2b] = C_PLUS;
  VALUE[0x2b] = 62;
  CLASS[0x2d] = C_DASH;
  VALUE[0x2d] = 62;
  CLASS[0x2f] = C_SLASH;
  VALUE[0x2f] = 63;
  CLASS[0x5f] = C_UNDER;
  VALUE[0x5f] = 63;
}
initTables();

@inline
function hexPair(d: Uint8Array, at: i32): i32 {
  if (at + 1 >= d.length) return -1;
  const hi = <i32>HEXV[d[at]];
  const lo = <i32>HEXV[d[at + 1]];
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

function hex4(d: Uint8Array, at: i32): i32 {
  if (at + 3 >= d.length) return -1;
  const a = hexPair(d, at);
  const b = hexPair(d, at + 2);
  return a < 0 || b < 0 ? -1 : (a << 8) | b;
}

// ---- base64 ----

/** The 6-bit values of the current run (reused). */
let SYMS = new Uint8Array(1024);

class Run {
  end: i32 = 0;
  n: i32 = 0;
  pad: i32 = 0;
  upper: i32 = 0;
  lower: i32 = 0;
  digit: i32 = 0;
  std: i32 = 0;
  url: i32 = 0;
  slash: i32 = 0;
  nonHex: i32 = 0;
}

const RUN = new Run();
const WRAP_COUNTS = new StaticArray<i32>(8);

/** Characters that may end a line-wrapped run's last line. */
function endsLastLine(c: i32): bool {
  return (
    c == 0x3d || c == 0x0d || c == 0x0a || c == 0x20 || c == 0x09 || c == 0x22 || c == 0x27 ||
    c == 0x7c || c == 0x3b || c == 0x3c || c == 0x26 || c == 0x29
  );
}

/**
 * Reads the base64 run that starts at `start` into SYMS and RUN. `full`: the
 * whole alphabet (+ / - _ and the URL escapes %2B %2F); otherwise letters and
 * digits only (the fallback for runs that mix the two alphabets or glue a
 * word to the payload with '+' or '/').
 */
function readRun(d: Uint8Array, start: i32, full: bool): Run {
  // Counts live in locals while the loop runs (a field of a global object
  // written per byte costs several times the rest of the loop).
  const len = d.length;
  const base = d.dataStart;
  const r = RUN;
  let n = 0;
  let upper = 0;
  let lower = 0;
  let digit = 0;
  let std = 0;
  let url = 0;
  let slash = 0;
  let nonHex = 0;
  let syms = SYMS;
  let cap = syms.length;
  let out = syms.dataStart;
  let j = start;
  let lineLen = 0;
  let firstLine = -1;
  let wrapEnd = -1; // where the run ended before the last line break it crossed
  let wrapN = 0;
  const wc = WRAP_COUNTS;
  while (j < len) {
    let ch = <i32>load<u8>(base + <usize>j);
    let w = 1;
    if (ch == 0x25 && full) {
      const v = hexPair(d, j + 1);
      if (v == 0x2b || v == 0x2f) {
        ch = v;
        w = 3;
      } else break;
    }
    const cls = unchecked(CLASS[ch]);
    if (cls == C_NONE) {
      if (ch == 0x0d || ch == 0x0a) {
        // A line-wrapped payload (MIME: 76, PEM: 64 per line): every full
        // line the same length, a multiple of 4, at least 60.
        let k = j;
        if (d[k] == 0x0d) k++;
        if (k < len && d[k] == 0x0a) k++;
        if (
          lineLen >= 60 &&
          (lineLen & 3) == 0 &&
          (firstLine < 0 || lineLen == firstLine) &&
          k < len &&
          unchecked(CLASS[d[k]]) != C_NONE &&
          (full || unchecked(CLASS[d[k]]) < C_PLUS)
        ) {
          firstLine = lineLen;
          lineLen = 0;
          wrapEnd = j;
          wrapN = n;
          wc[0] = upper;
          wc[1] = lower;
          wc[2] = digit;
          wc[3] = std;
          wc[4] = url;
          wc[5] = slash;
          wc[6] = nonHex;
          j = k;
          continue;
        }
      }
      break;
    }
    if (!full && cls >= C_PLUS) break;
    if (firstLine > 0 && lineLen >= firstLine) break;
    if (n >= cap) {
      const grown = new Uint8Array(cap * 2);
      grown.set(syms);
      SYMS = grown;
      syms = grown;
      cap = grown.length;
      out = grown.dataStart;
    }
    store<u8>(out + <usize>n, unchecked(VALUE[ch]));
    n++;
    lineLen++;
    if (cls == C_UPPER) {
      upper++;
      if (ch > 0x46) nonHex++;
    } else if (cls == C_LOWER) {
      lower++;
      if (ch > 0x66) nonHex++;
    } else if (cls == C_DIGIT) digit++;
    else {
      nonHex++;
      if (cls == C_PLUS || cls == C_SLASH) std++;
      else url++;
      if (cls == C_SLASH) slash++;
    }
    j += w;
  }
  // The last line of a wrapped run must end like a payload does; otherwise the
  // "line" after the break was ordinary text (a header, a word): cut it off.
  if (wrapEnd >= 0) {
    let ends = j >= len;
    if (!ends) {
      let c = <i32>d[j];
      if (c == 0x25 && hexPair(d, j + 1) == 0x3d) c = 0x3d;
      ends = endsLastLine(c);
    }
    if (!ends) {
      j = wrapEnd;
      n = wrapN;
      upper = wc[0];
      lower = wc[1];
      digit = wc[2];
      std = wc[3];
      url = wc[4];
      slash = wc[5];
      nonHex = wc[6];
    }
  }
  // Padding: at most two '=' (or %3D).
  let pad = 0;
  while (pad < 2 && j < len) {
    if (d[j] == 0x3d) j++;
    else if (full && d[j] == 0x25 && hexPair(d, j + 1) == 0x3d) j += 3;
    else break;
    pad++;
  }
  r.n = n;
  r.pad = pad;
  r.upper = upper;
  r.lower = lower;
  r.digit = digit;
  r.std = std;
  r.url = url;
  r.slash = slash;
  r.nonHex = nonHex;
  r.end = j;
  return r;
}

function decodeSyms(n: i32): Uint8Array {
  const out = new Uint8Array((n * 6) >> 3);
  let acc: u32 = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    acc = (acc << 6) | <u32>unchecked(SYMS[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      unchecked((out[o++] = <u8>((acc >> bits) & 0xff)));
    }
  }
  return out;
}

/** Known file signatures: binary that is worth decoding even when short. */
export function magicType(b: Uint8Array): string | null {
  const n = b.length;
  if (n >= 4 && b[0] == 0x7f && b[1] == 0x45 && b[2] == 0x4c && b[3] == 0x46) return "application/x-elf";
  if (n >= 64 && b[0] == 0x4d && b[1] == 0x5a) return "application/x-dosexec";
  if (n >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 0x08) return "application/gzip";
  if (n >= 4 && b[0] == 0x50 && b[1] == 0x4b && b[2] == 0x03 && b[3] == 0x04) return "application/zip";
  if (n >= 4 && b[0] == 0x42 && b[1] == 0x5a && b[2] == 0x68 && b[3] >= 0x31 && b[3] <= 0x39)
    return "application/x-bzip2";
  if (n >= 6 && b[0] == 0xfd && b[1] == 0x37 && b[2] == 0x7a && b[3] == 0x58 && b[4] == 0x5a && b[5] == 0)
    return "application/x-xz";
  if (n >= 6 && b[0] == 0x37 && b[1] == 0x7a && b[2] == 0xbc && b[3] == 0xaf && b[4] == 0x27 && b[5] == 0x1c)
    return "application/x-7z-compressed";
  if (n >= 4 && (b[0] == 0xcf || b[0] == 0xce) && b[1] == 0xfa && b[2] == 0xed && b[3] == 0xfe)
    return "application/x-mach-binary";
  if (n >= 4 && b[0] == 0xca && b[1] == 0xfe && b[2] == 0xba && b[3] == 0xbe) return "application/java-vm";
  if (n >= 8 && b[0] == 0 && b[1] == 0x61 && b[2] == 0x73 && b[3] == 0x6d && b[4] == 1) return "application/wasm";
  if (n >= 5 && b[0] == 0x25 && b[1] == 0x50 && b[2] == 0x44 && b[3] == 0x46 && b[4] == 0x2d) return "application/pdf";
  return null;
}

@inline
function textByte(c: i32): bool {
  return (c >= 0x20 && c < 0x7f) || c == 0x09 || c == 0x0a || c == 0x0d;
}

/** KIND_TEXT, KIND_UTF16 or KIND_BINARY. */
export function classify(b: Uint8Array, minRatio: f64): i32 {
  const n = b.length;
  if (n == 0) return KIND_BINARY;
  const allowed = <i32>Math.floor(<f64>n * (1.0 - minRatio));
  // UTF-16LE: every second byte zero, the others text.
  if (n >= 8 && b[1] == 0 && b[0] != 0) {
    let bad = 0;
    for (let i = 0; i + 1 < n; i += 2) {
      if (b[i + 1] != 0 || !textByte(b[i])) bad++;
    }
    if (bad <= allowed >> 1) return KIND_UTF16;
  }
  // ASCII and UTF-8.
  let bad = 0;
  let letters = 0;
  let i = 0;
  while (i < n) {
    const c = <i32>unchecked(b[i]);
    if (textByte(c)) {
      if (((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x20) letters++;
      i++;
      continue;
    }
    let need = 0;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) need = 2;
    else if (c >= 0xf0 && c <= 0xf4) need = 3;
    let ok = need > 0 && i + need < n + 0;
    for (let k = 1; ok && k <= need; k++) {
      if (i + k >= n || (b[i + k] & 0xc0) != 0x80) ok = false;
    }
    if (ok) {
      letters++;
      i += need + 1;
    } else {
      bad++;
      if (bad > allowed) return KIND_BINARY;
      i++;
    }
  }
  // Text has words: at least a quarter letters, digits and spaces (rules out punctuation noise).
  return letters * 4 >= n ? KIND_TEXT : KIND_BINARY;
}

/** Validates and decodes RUN (just read from `start`); null when it is not a payload. */
function acceptRun(d: Uint8Array, start: i32, r: Run, cfg: Config): Hit | null {
  const n = r.n;
  if (n < cfg.minBase64Length) return null;
  if (r.std > 0 && r.url > 0) return null; // two alphabets: not one payload
  if (r.url > 0 && !cfg.base64url) return null;
  if (r.url == 0 && !cfg.base64) return null;
  if (r.nonHex == 0) return null; // hex digits (hashes, ids), not base64
  if (r.upper == 0 || r.lower == 0) return null; // words, numbers, lower-case ids
  if (r.pad > 0 && ((n + r.pad) & 3) != 0) return null;
  // The alphabet itself ("ABCDEFGH...0123456789+/") and other counting
  // sequences: most neighbours one symbol apart.
  let steps = 0;
  for (let k = 1; k < n; k++) if (<i32>unchecked(SYMS[k]) - <i32>unchecked(SYMS[k - 1]) == 1) steps++;
  if (steps * 2 > n) return null;
  // A shuffled alphabet (nanoid's, a custom base64 table): long, and no symbol twice.
  if (n >= 40 && n <= 64) {
    let seen: u64 = 0;
    let repeats = false;
    for (let k = 0; k < n; k++) {
      const bit: u64 = (<u64>1) << <u64>unchecked(SYMS[k]);
      if (seen & bit) {
        repeats = true;
        break;
      }
      seen |= bit;
    }
    if (!repeats) return null;
  }
  const data = decodeSyms(n);
  if (data.length < cfg.minDecodedBytes) return null;
  const kind = classify(data, cfg.minTextRatio);
  if (kind == KIND_BINARY && magicType(data) === null) {
    // Opaque binary: only long runs that look like base64 all through
    // (digits present, not a path full of slashes).
    if (n < cfg.minBinaryBase64Length || r.digit == 0 || r.slash * 8 > n) return null;
  }
  const h = new Hit();
  h.offset = start;
  h.length = r.end - start;
  h.encoding = r.url > 0 ? "base64url" : "base64";
  h.data = data;
  h.kind = kind;
  h.opaque = kind == KIND_BINARY && magicType(data) === null;
  return h;
}

// ---- %uXXXX, \uXXXX, \xNN ----

/**
 * Escaped text in a writing system, as JavaScript's escape() and JSON write
 * non-ASCII text ("\u4f60\u597d", "%u0436%u0443%u043a"): at least two
 * different characters, the non-ASCII ones all CJK (with kana), all Hangul,
 * or all within 0x400 code points of each other (one alphabet and its
 * neighbours), the rest ASCII, CJK or fullwidth spaces and punctuation.
 * Shellcode spreads over the whole 16-bit range, and a heap spray repeats
 * one unit ("%u0c0c%u0c0c").
 */
function naturalText(units: i32[]): bool {
  let lo = 0x10000;
  let hi = -1;
  let cjk = true;
  let hangul = true;
  let first = -1;
  let distinct = false;
  for (let k = 0; k < units.length; k++) {
    const u = units[k];
    if (u < 0x80) {
      const ascii = u == 0x20 || (u >= 0x21 && u <= 0x2f) || (u >= 0x3a && u <= 0x40);
      if (!ascii) return false;
      continue;
    }
    if (u < 0xa0) return false;
    if ((u >= 0x3000 && u <= 0x303f) || (u >= 0xff00 && u <= 0xffef)) continue; // CJK and fullwidth punctuation
    if (u < lo) lo = u;
    if (u > hi) hi = u;
    if ((u < 0x3040 || u > 0x9fff) && (u < 0xf900 || u > 0xfaff)) cjk = false;
    if (u < 0xac00 || u > 0xd7af) hangul = false;
    if (first < 0) first = u;
    else if (u != first) distinct = true;
  }
  return hi >= 0 && distinct && (cjk || hangul || hi - lo <= 0x400);
}

function unicodeRun(d: Uint8Array, start: i32, lead: i32, cfg: Config, hits: Hit[]): i32 {
  const units = new Array<i32>();
  let j = start;
  let wide = false;
  while (j + 5 < d.length + 0 && d[j] == lead) {
    const u = d[j + 1];
    if (!(u == 0x75 || (u == 0x55 && lead == 0x25))) break;
    const v = hex4(d, j + 2);
    if (v < 0) break;
    units.push(v);
    if (v > 0xff) wide = true;
    j += 6;
  }
  if (units.length == 0) return start + 1;
  if (units.length >= cfg.minUnicodeUnits && !naturalText(units)) {
    const h = new Hit();
    h.offset = start;
    h.length = j - start;
    h.encoding = lead == 0x25 ? "percent-u" : "backslash-u";
    h.layout = wide ? "utf16le" : "chars";
    const out = new Uint8Array(wide ? units.length * 2 : units.length);
    for (let k = 0; k < units.length; k++) {
      if (wide) {
        out[2 * k] = <u8>(units[k] & 0xff);
        out[2 * k + 1] = <u8>(units[k] >> 8);
      } else out[k] = <u8>units[k];
    }
    h.data = out;
    h.kind = classify(out, cfg.minTextRatio);
    hits.push(h);
  }
  return j;
}

function hexEscapeRun(d: Uint8Array, start: i32, cfg: Config, hits: Hit[]): i32 {
  let j = start;
  let count = 0;
  while (j + 3 < d.length + 0 && d[j] == 0x5c && (d[j + 1] == 0x78 || d[j + 1] == 0x58)) {
    if (hexPair(d, j + 2) < 0) break;
    count++;
    j += 4;
  }
  if (count == 0) return start + 1;
  if (count >= cfg.minHexEscapes) {
    const out = new Uint8Array(count);
    for (let k = 0; k < count; k++) out[k] = <u8>hexPair(d, start + k * 4 + 2);
    const h = new Hit();
    h.offset = start;
    h.length = j - start;
    h.encoding = "hex-escape";
    h.data = out;
    h.kind = classify(out, cfg.minTextRatio);
    hits.push(h);
  }
  return j;
}

/** Every encoded run in `d`, in order of offset. */
export function scan(d: Uint8Array, cfg: Config): Hit[] {
  const hits = new Array<Hit>();
  const len = d.length;
  const anyB64 = cfg.base64 || cfg.base64url;
  const base = d.dataStart;
  let i = 0;
  while (i < len) {
    const c = <i32>load<u8>(base + <usize>i);
    if (c == 0x25 && cfg.percentU && i + 1 < len && (d[i + 1] | 0x20) == 0x75) {
      i = unicodeRun(d, i, 0x25, cfg, hits);
      continue;
    }
    if (c == 0x5c && i + 1 < len) {
      const e = d[i + 1];
      if (e == 0x75 && cfg.backslashU) {
        i = unicodeRun(d, i, 0x5c, cfg, hits);
        continue;
      }
      if ((e | 0x20) == 0x78 && cfg.hexEscape) {
        i = hexEscapeRun(d, i, cfg, hits);
        continue;
      }
    }
    if (c == 0x25 && hexPair(d, i + 1) >= 0) {
      i += 3; // a URL escape (%20): its hex digits do not start a run
      continue;
    }
    if (!anyB64 || unchecked(CLASS[c]) == C_NONE) {
      i++;
      continue;
    }
    // Most runs are words shorter than minBase64Length: step over them
    // without reading them (only %2B/%2F or a line wrap could extend one).
    let w = i + 1;
    while (w < len && unchecked(CLASS[load<u8>(base + <usize>w)]) != C_NONE) w++;
    const after = w < len ? <i32>load<u8>(base + <usize>w) : -1;
    if (w - i < cfg.minBase64Length && after != 0x25 && (w - i < 60 || (after != 0x0d && after != 0x0a))) {
      i = w;
      continue;
    }
    const r = readRun(d, i, true);
    const end = r.end;
    const glued = r.std > 0 || r.url > 0;
    let hit = acceptRun(d, i, r, cfg);
    if (glued && (hit === null || hit.opaque)) {
      // A word glued to the payload with a separator ("echo+", "Base64/",
      // "/cgi-bin/x/") decodes out of step. Try the run after each separator,
      // left to right; the first that decodes to text or a known file type
      // wins (opaque binary only when its padding proves the alignment).
      let j = i;
      let tries = 0;
      while (j < end && tries < MAX_SUFFIX_TRIES) {
        const x = <i32>d[j];
        let sep = false;
        if (x == 0x25) {
          const v = hexPair(d, j + 1);
          if (v != 0x2b && v != 0x2f) break;
          sep = true;
          j += 3;
        } else {
          const cls = unchecked(CLASS[x]);
          if (cls == C_NONE) break;
          sep = cls >= C_PLUS;
          j++;
        }
        if (!sep || j >= end || unchecked(CLASS[d[j]]) == C_NONE) continue;
        tries++;
        const s = readRun(d, j, true);
        const pad = s.pad;
        const sub = acceptRun(d, j, s, cfg);
        if (sub !== null && (!sub.opaque || pad > 0)) {
          hit = sub;
          break;
        }
      }
    }
    if (hit !== null) {
      hits.push(hit);
      i = hit.offset + hit.length > end ? hit.offset + hit.length : end;
      continue;
    }
    i = end > i ? end : i + 1;
  }
  return hits;
}
