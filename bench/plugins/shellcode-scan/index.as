// AssemblyScript, compiled by bench/plugins.mjs with asc (as index.ts, next to
// the SDK's assembly/honeytrap.ts helpers). Benchmark plugin for the wasm
// engine: NOP sleds (runs of 0x90) and well-known x86 shellcode byte
// patterns in the received bytes, each reported with its byte offset.
import { finding, output, receivedBytes } from '@honeytrap/sdk/assembly';

/** A run of at least this many 0x90 bytes is a NOP sled. */
const MIN_SLED = 16;
/** At most this many findings per attack. */
const MAX_FINDINGS = 100;

const NAMES: string[] = [
  'x86-push-binsh', // push "//sh"; push "/bin"
  'x86-xor-eax-push', // xor eax,eax; push eax; push imm32
  'x86-int80', // int 0x80
  'x86-getpc-fnstenv', // fnstenv [esp-0xc]
  'x64-execve-nr', // push 59; pop rax
  'bin-sh', // "/bin/sh"
];
const PATTERNS: u8[][] = [
  [0x68, 0x2f, 0x2f, 0x73, 0x68, 0x68, 0x2f, 0x62, 0x69, 0x6e],
  [0x31, 0xc0, 0x50, 0x68],
  [0xcd, 0x80],
  [0xd9, 0x74, 0x24, 0xf4],
  [0x6a, 0x3b, 0x58],
  [0x2f, 0x62, 0x69, 0x6e, 0x2f, 0x73, 0x68],
];

function matchAt(bytes: Uint8Array, at: i32, pattern: u8[]): bool {
  if (at + pattern.length > bytes.length) return false;
  for (let j = 0; j < pattern.length; j++) if (bytes[at + j] != pattern[j]) return false;
  return true;
}

export function analyze(input: string): string {
  const bytes = receivedBytes(input);
  const findings = new Array<string>();
  let i = 0;
  while (i < bytes.length && findings.length < MAX_FINDINGS) {
    if (bytes[i] == 0x90) {
      let end = i;
      while (end < bytes.length && bytes[end] == 0x90) end++;
      if (end - i >= MIN_SLED) findings.push(finding('x-nop-sled', (end - i).toString(), i));
      i = end;
      continue;
    }
    for (let p = 0; p < PATTERNS.length; p++) {
      if (matchAt(bytes, i, PATTERNS[p])) {
        findings.push(finding('signature', NAMES[p], i));
        break;
      }
    }
    i++;
  }
  return output(findings);
}
