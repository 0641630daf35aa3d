// A content type from the first bytes, for artifacts a plugin did not type:
// the kinds honeypot downloads usually are (executables, scripts, archives).
const MAGIC: [string, number[]][] = [
  ['application/x-elf', [0x7f, 0x45, 0x4c, 0x46]],
  ['application/x-dosexec', [0x4d, 0x5a]],
  ['application/gzip', [0x1f, 0x8b]],
  ['application/zip', [0x50, 0x4b, 0x03, 0x04]],
  ['application/x-bzip2', [0x42, 0x5a, 0x68]],
  ['application/x-xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['application/x-7z-compressed', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
  ['application/x-mach-binary', [0xcf, 0xfa, 0xed, 0xfe]],
  ['application/pdf', [0x25, 0x50, 0x44, 0x46]],
];

export function sniffContentType(data: Buffer): string {
  for (const [type, magic] of MAGIC) if (magic.every((b, i) => data[i] === b)) return type;
  if (data.subarray(0, 2).toString('latin1') === '#!') return 'text/x-shellscript';
  const head = data.subarray(0, 512);
  if (head.length && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)))
    return 'text/plain';
  return 'application/octet-stream';
}
