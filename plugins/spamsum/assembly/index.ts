// spamsum: the ssdeep fuzzy hash (context triggered piecewise hashing) of what
// an attacker sent and of every artifact, for the honeytrap-ts wasm engine.
//
// The hash is the one the `ssdeep` command (2.14) prints, libfuzzy's
// fuzzy_digest without flags: a rolling hash over a 7-byte window decides
// where a piece of the input ends; each piece adds one base64 character (the
// low 6 bits of an FNV hash of the piece) to the signature of every block size
// at which it ended; the result is "blocksize:sig1:sig2", sig1 for the chosen
// block size (at most 64 characters) and sig2 for twice that size (at most 32).
// The block size is the smallest 3 * 2^k with 3 * 2^k * 64 >= the input's size,
// halved while its signature is shorter than 32 characters (spamsum's "try
// again with a smaller block size"). Every block size is hashed in the same
// single pass over the input, as libfuzzy does.
//
// The bytes are decoded from the task's base64 while they are hashed, so
// nothing but the task text itself is held in memory, whatever the size. The
// hash state lives in static memory (memory.data), not in managed arrays: the
// per-byte loop then touches no garbage-collected object.
import { Meta, base64Digit, finding, isArtifactTask, jsonBool, jsonLocate, jsonNumber, jsonRaw, output, unitAt } from "@honeytrap/sdk/assembly";

const ROLLING_WINDOW: u32 = 7;
const NUM_BLOCKHASHES: i32 = 31;
const SPAMSUM_LENGTH: i32 = 64;
const HALF_LENGTH: i32 = SPAMSUM_LENGTH / 2;
/** FNV's initial value 0x28021967, low 6 bits: only they reach the signature. */
const HASH_INIT: u32 = 0x27;
/** FNV's prime 0x01000193 modulo 64: (h * prime) mod 64 == ((h mod 64) * 0x13) mod 64. */
const HASH_PRIME_LOW: u32 = 0x13;
/** The largest input libfuzzy hashes: block size 3 * 2^30 times 64 characters. */
const TOTAL_SIZE_MAX: u64 = (<u64>3 << 30) * 64;

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// ---- the state of one hash, in static memory (reset by begin()) ----

/** The rolling hash's window: 7 bytes. */
const WINDOW = memory.data(8);
/** Per block size 3 * 2^i: its signature so far (64 characters each). */
const DIGEST = memory.data(NUM_BLOCKHASHES * SPAMSUM_LENGTH);
/** Per block size: the number of signature characters. */
const DINDEX = memory.data(NUM_BLOCKHASHES * 4, 4);
/** Per block size: the FNV hash (low 6 bits) of the current piece, for sig1 and for sig2. */
const HASH = memory.data(NUM_BLOCKHASHES);
const HALF_HASH = memory.data(NUM_BLOCKHASHES);
/** Per block size: sig2's character for everything after its 31st piece (0: none yet). */
const HALF_DIGEST = memory.data(NUM_BLOCKHASHES);

let wpos: u32 = 0;
let h1: u32 = 0;
let h2: u32 = 0;
let h3: u32 = 0;
let bhStart: i32 = 0;
let bhEnd: i32 = 1;
let needLastHash = false;
let lastHash: u32 = 0;
let totalSize: u64 = 0;

@inline
function dindex(i: i32): i32 {
  return load<i32>(DINDEX + (<usize>i << 2));
}

@inline
function setDindex(i: i32, v: i32): void {
  store<i32>(DINDEX + (<usize>i << 2), v);
}

@inline
function digestAt(i: i32, k: i32): u32 {
  return load<u8>(DIGEST + <usize>(i * SPAMSUM_LENGTH + k));
}

@inline
function setDigestAt(i: i32, k: i32, c: u32): void {
  store<u8>(DIGEST + <usize>(i * SPAMSUM_LENGTH + k), <u8>c);
}

@inline
function b64(v: u32): u32 {
  return load<u16>(changetype<usize>(B64) + (<usize>(v & 63) << 1));
}

function begin(size: u64): void {
  memory.fill(WINDOW, 0, 8);
  wpos = 0;
  h1 = 0;
  h2 = 0;
  h3 = 0;
  bhStart = 0;
  bhEnd = 1;
  needLastHash = false;
  lastHash = 0;
  totalSize = size;
  store<u8>(HASH, HASH_INIT);
  store<u8>(HALF_HASH, HASH_INIT);
  setDigestAt(0, 0, 0);
  store<u8>(HALF_DIGEST, 0);
  setDindex(0, 0);
}

/** The first signature character of block size i starts block size i + 1 (up to 3 * 2^30). */
function tryForkBlockhash(): void {
  const old = <usize>(bhEnd - 1);
  if (bhEnd < NUM_BLOCKHASHES) {
    const next = <usize>bhEnd;
    store<u8>(HASH + next, load<u8>(HASH + old));
    store<u8>(HALF_HASH + next, load<u8>(HALF_HASH + old));
    setDigestAt(bhEnd, 0, 0);
    store<u8>(HALF_DIGEST + next, 0);
    setDindex(bhEnd, 0);
    bhEnd++;
  } else if (!needLastHash) {
    needLastHash = true;
    lastHash = load<u8>(HASH + old);
  }
}

/**
 * Stops hashing the smallest block size once it cannot be chosen any more:
 * the input is too large for it and the next size has 32 characters already.
 * (A speed-up only: the digest is the same without it.)
 */
function tryReduceBlockhash(): void {
  if (bhEnd - bhStart < 2) return;
  if ((<u64>3 << <u64>bhStart) * <u64>SPAMSUM_LENGTH >= totalSize) return;
  if (dindex(bhStart + 1) < HALF_LENGTH) return;
  bhStart++;
}

/** A piece ended for block size i: its character goes into the signature. */
function emit(i: i32): void {
  if (dindex(i) == 0) tryForkBlockhash();
  const pos = dindex(i);
  const ui = <usize>i;
  setDigestAt(i, pos, b64(load<u8>(HASH + ui)));
  store<u8>(HALF_DIGEST + ui, <u8>b64(load<u8>(HALF_HASH + ui)));
  if (pos < SPAMSUM_LENGTH - 1) {
    // Room for more: start a new piece. A full signature keeps hashing into its
    // last character, which then stands for the whole rest of the input.
    setDindex(i, pos + 1);
    setDigestAt(i, pos + 1, 0);
    store<u8>(HASH + ui, HASH_INIT);
    if (pos + 1 < HALF_LENGTH) {
      store<u8>(HALF_HASH + ui, HASH_INIT);
      store<u8>(HALF_DIGEST + ui, 0);
    }
  } else tryReduceBlockhash();
}

@inline
function step(c: u32): void {
  // the rolling hash over the last 7 bytes
  h2 = h2 - h1 + ROLLING_WINDOW * c;
  const w = WINDOW + <usize>wpos;
  h1 = h1 + c - <u32>load<u8>(w);
  store<u8>(w, <u8>c);
  wpos = wpos == ROLLING_WINDOW - 1 ? 0 : wpos + 1;
  h3 = (h3 << 5) ^ c;
  const h = h1 + h2 + h3;

  for (let i = <usize>bhStart, end = <usize>bhEnd; i < end; i++) {
    store<u8>(HASH + i, ((<u32>load<u8>(HASH + i) * HASH_PRIME_LOW) ^ c) & 63);
    store<u8>(HALF_HASH + i, ((<u32>load<u8>(HALF_HASH + i) * HASH_PRIME_LOW) ^ c) & 63);
  }
  if (needLastHash) lastHash = ((lastHash * HASH_PRIME_LOW) ^ c) & 63;

  // A piece ends for block size b = 3 * 2^i when h mod b == b - 1, that is
  // when h + 1 is a multiple of 3 and of 2^i (h = 0xffffffff is not: 2^32 - 1
  // is a multiple of 3). The sizes double, so once one fails all larger fail.
  if (h == 0xffffffff) return;
  const next = h + 1;
  if ((next & ((<u32>1 << <u32>bhStart) - 1)) != 0 || next % 3 != 0) return;
  for (let i = bhStart; i < bhEnd; i++) {
    if ((next & ((<u32>1 << <u32>i) - 1)) != 0) break;
    emit(i);
  }
}

function signature(i: i32, length: i32): string {
  const units = new Array<i32>(length);
  for (let k = 0; k < length; k++) units[k] = digestAt(i, k);
  return String.fromCharCodes(units);
}

/** libfuzzy's FUZZY_FLAG_ELIMSEQ: runs of more than three identical characters cut to three. */
function eliminateSequences(s: string): string {
  if (s.length <= 3) return s;
  const units = new Array<i32>();
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    const n = units.length;
    if (n >= 3 && units[n - 1] == c && units[n - 2] == c && units[n - 3] == c) continue;
    units.push(c);
  }
  return String.fromCharCodes(units);
}

/** The digest of what step() was given, "blocksize:sig1:sig2"; null when the input is too large. */
function digestText(elimSeq: bool): string | null {
  if (totalSize > TOTAL_SIZE_MAX) return null;
  const h = h1 + h2 + h3;
  // the block size the input's size suggests...
  let bi = bhStart;
  while ((<u64>3 << <u64>bi) * <u64>SPAMSUM_LENGTH < totalSize) {
    bi++;
    if (bi >= NUM_BLOCKHASHES) return null;
  }
  // ...then smaller while its signature is shorter than 32 characters
  while (bi >= bhEnd) bi--;
  while (bi > bhStart && dindex(bi) < HALF_LENGTH) bi--;

  let first = signature(bi, dindex(bi));
  // the piece still open at the end of the input (none when the rolling hash is 0)
  if (h != 0) first += String.fromCharCode(b64(load<u8>(HASH + <usize>bi)));
  else if (digestAt(bi, dindex(bi)) != 0)
    first += String.fromCharCode(digestAt(bi, dindex(bi)));
  if (elimSeq) first = eliminateSequences(first);

  let second = "";
  if (bi < bhEnd - 1) {
    const next = bi + 1;
    let n = dindex(next);
    if (n > HALF_LENGTH - 1) n = HALF_LENGTH - 1;
    second = signature(next, n);
    if (h != 0) second += String.fromCharCode(b64(load<u8>(HALF_HASH + <usize>next)));
    else if (load<u8>(HALF_DIGEST + <usize>next) != 0)
      second += String.fromCharCode(load<u8>(HALF_DIGEST + <usize>next));
    if (elimSeq) second = eliminateSequences(second);
  } else if (h != 0) {
    // no larger block size ever ended a piece: its signature is the open piece alone
    second = String.fromCharCode(b64(bi == 0 ? load<u8>(HASH) : lastHash));
  }
  return (<u64>3 << <u64>bi).toString() + ":" + first + ":" + second;
}

// ---- the task: the base64 read in place (no copy of the large value) ----

/** Hashes the base64 JSON string whose opening quote is at i; returns how many bytes it held. */
function hashBase64At(base: usize, len: i32, i: i32): u64 {
  // one pass for the end and the size (the hash needs the size from the start)...
  let end = i + 1;
  let digits: u64 = 0;
  for (; end < len; end++) {
    const c = <u32>unitAt(base, end);
    if (c == 0x22) break;
    if (base64Digit(c) != 0xff) digits++;
  }
  const size = (digits * 6) >> 3;
  begin(size);
  // ...and one to decode and hash (a JSON escape such as \/ leaves its second character)
  let acc: u32 = 0;
  let bits: u32 = 0;
  for (let k = i + 1; k < end; k++) {
    const v = base64Digit(<u32>unitAt(base, k));
    if (v == 0xff) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      step((acc >> bits) & 0xff);
    }
  }
  return size;
}

/** input: the task as JSON text. Returns {"findings": [...]} as JSON text. */
export function analyze(input: string): string {
  const none = output([]);
  const isArtifact = isArtifactTask(input);
  const data = jsonLocate(input, isArtifact ? "artifact.data" : "attack.received.data");
  if (data < 0 || unitAt(changetype<usize>(input), data) != 0x22) return none;
  const truncated = !isArtifact && jsonBool(input, "attack.received.truncated");
  // config is read from its own text: a path from the root would step over the attack again
  const raw = jsonRaw(input, "config");
  const config = raw !== null ? raw : "";
  const minBytes = jsonNumber(config, "minBytes", 1);

  const size = hashBase64At(changetype<usize>(input), input.length, data);
  if (<f64>size < minBytes) return none;
  const value = digestText(jsonBool(config, "eliminateSequences"));
  if (value === null) return none;
  const meta = new Meta()
    .str("algorithm", "ssdeep")
    .str("input", isArtifact ? "artifact" : "received")
    .num("size", <i64>size)
    .num("blocksize", <i64>parseInt(value.substring(0, value.indexOf(":"))));
  if (truncated) meta.bool("truncated", true);
  return output([finding("hash", value, -1, meta)]);
}
