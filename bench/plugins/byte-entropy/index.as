// AssemblyScript, compiled by bench/plugins.mjs with asc (as index.ts, next to
// the SDK's assembly/honeytrap.ts helpers). Benchmark plugin for the wasm
// engine: the byte histogram of the received bytes and its Shannon entropy
// (bits per byte: about 4.5 for English text, close to 8 for compressed or
// encrypted data), with the number of distinct bytes, the share of printable
// ones and the most frequent byte.
import { receivedBytes } from '@honeytrap/sdk/assembly';

/** x with `digits` decimals, as JSON number text. */
function fixed(x: f64, digits: i32): string {
  const scale = Math.pow(10, <f64>digits);
  return (Math.round(x * scale) / scale).toString();
}

export function analyze(input: string): string {
  const bytes = receivedBytes(input);
  const n = bytes.length;
  if (n == 0) return '{"findings":[]}';
  const counts = new StaticArray<u32>(256);
  for (let i = 0; i < n; i++) counts[bytes[i]]++;
  let entropy: f64 = 0;
  let distinct = 0;
  let printable: u32 = 0;
  let top = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b];
    if (c == 0) continue;
    distinct++;
    if ((b >= 0x20 && b < 0x7f) || b == 0x09 || b == 0x0a || b == 0x0d) printable += c;
    if (c > counts[top]) top = b;
    const p = <f64>c / <f64>n;
    entropy -= p * Math.log2(p);
  }
  return (
    '{"findings":[{"type":"x-entropy","value":"' +
    fixed(entropy, 3) +
    '","meta":{"bytes":' +
    n.toString() +
    ',"distinct":' +
    distinct.toString() +
    ',"printable":' +
    fixed(<f64>printable / <f64>n, 3) +
    ',"topByte":' +
    top.toString() +
    ',"topCount":' +
    counts[top].toString() +
    '}}]}'
  );
}
