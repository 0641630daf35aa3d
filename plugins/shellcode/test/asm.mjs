// Shellcode for the tests, written as an assembler listing.

/**
 * Machine code written out one instruction per line: the bytes, then "|" and
 * the instruction. Returns the bytes.
 */
export function asm(text) {
  const hex = text
    .split('\n')
    .map((l) => l.split('|')[0].trim())
    .join(' ')
    .split(/\s+/)
    .filter(Boolean);
  for (const h of hex) if (!/^[0-9a-f]{2}$/i.test(h)) throw new Error(`not a byte: ${h}`);
  return Buffer.from(hex.join(''), 'hex');
}
