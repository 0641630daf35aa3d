// Base64 both ways: the task carries the attack's and the artifact's bytes as
// base64 strings, and a result carries artifacts the same way.
import { jsonLocate, unitAt } from "./json";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Digit values by character (standard and URL-safe alphabets), 0xff for the rest. */
const DIGITS = memory.data(256);
memory.fill(DIGITS, 0xff, 256);
for (let k = 0; k < 64; k++) store<u8>(DIGITS + <usize>ALPHABET.charCodeAt(k), <u8>k);
store<u8>(DIGITS + 0x2d, 62); // -
store<u8>(DIGITS + 0x5f, 63); // _

/** The value of a base64 digit (either alphabet), or 0xff for padding, white space and anything else. */
@inline
export function base64Digit(c: u32): u32 {
  return c < 256 ? <u32>load<u8>(DIGITS + <usize>c) : 0xff;
}

/** Decodes the code units [from, to) of the string at p, skipping what is not a digit. */
function decodeUnits(p: usize, from: i32, to: i32): Uint8Array {
  const out = new Uint8Array((((to - from) * 3) >> 2) + 3);
  const dst = out.dataStart;
  let acc: u32 = 0;
  let bits: u32 = 0;
  let o: usize = 0;
  for (let i = from; i < to; i++) {
    const v = base64Digit(<u32>unitAt(p, i));
    if (v == 0xff) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      store<u8>(dst + o, <u8>(acc >> bits));
      o++;
    }
  }
  return out.subarray(0, <i32>o);
}

/** Decodes base64 (either alphabet; padding and white space ignored). */
export function base64Decode(text: string): Uint8Array {
  return decodeUnits(changetype<usize>(text), 0, text.length);
}

/**
 * The bytes of the base64 string at a dotted path ("attack.received.data"),
 * decoded in place (the string is never copied out); empty when there is none.
 */
export function base64Field(json: string, path: string): Uint8Array {
  const at = jsonLocate(json, path);
  const p = changetype<usize>(json);
  const n = json.length;
  if (at < 0 || unitAt(p, at) != 0x22) return new Uint8Array(0);
  let end = at + 1;
  while (end < n && unitAt(p, end) != 0x22) end++;
  return decodeUnits(p, at + 1, end);
}

/** Standard base64 with padding (what the host expects in an artifact's data). */
export function base64Encode(data: Uint8Array): string {
  const n = data.length;
  const out = new Uint16Array(((n + 2) / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (<u32>data[i] << 16) | (<u32>data[i + 1] << 8) | <u32>data[i + 2];
    out[o++] = <u16>ALPHABET.charCodeAt((v >> 18) & 63);
    out[o++] = <u16>ALPHABET.charCodeAt((v >> 12) & 63);
    out[o++] = <u16>ALPHABET.charCodeAt((v >> 6) & 63);
    out[o++] = <u16>ALPHABET.charCodeAt(v & 63);
  }
  const rest = n - i;
  if (rest > 0) {
    const v = (<u32>data[i] << 16) | (rest > 1 ? <u32>data[i + 1] << 8 : 0);
    out[o++] = <u16>ALPHABET.charCodeAt((v >> 18) & 63);
    out[o++] = <u16>ALPHABET.charCodeAt((v >> 12) & 63);
    out[o++] = rest > 1 ? <u16>ALPHABET.charCodeAt((v >> 6) & 63) : 0x3d;
    out[o++] = 0x3d;
  }
  return String.UTF16.decode(out.buffer);
}
