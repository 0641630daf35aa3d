// What a file is, from its first bytes: the kinds honeypot downloads usually
// are (executables, scripts, archives). The daemon uses it for the content
// type of artifacts a plugin did not type; the SDK's describeFile (bundled
// into download plugins) adds the details of ELF, PE and script headers on
// top. This file imports nothing, so the SDK can bundle it into a plugin.

/** A file's type by magic: a short kind, a description and a content type. */
export interface MagicType {
  /** ELF, PE, Mach-O, archive, PDF, script, HTML, text or data. */
  kind: string;
  description: string;
  contentType: string;
}

/** [kind, description, content type, magic bytes in hex, their offset (default 0)] */
const MAGIC: [string, string, string, string, number?][] = [
  ['ELF', 'ELF', 'application/x-elf', '7f454c46'],
  ['PE', 'MS-DOS or PE executable', 'application/x-dosexec', '4d5a'],
  ['archive', 'gzip compressed data', 'application/gzip', '1f8b'],
  ['archive', 'Zip archive', 'application/zip', '504b0304'],
  ['archive', 'bzip2 compressed data', 'application/x-bzip2', '425a68'],
  ['archive', 'XZ compressed data', 'application/x-xz', 'fd377a585a00'],
  ['archive', '7-zip archive', 'application/x-7z-compressed', '377abcaf271c'],
  ['archive', 'RAR archive', 'application/vnd.rar', '526172211a07'],
  ['archive', 'POSIX tar archive', 'application/x-tar', '7573746172', 257], // "ustar"
  ['Mach-O', 'Mach-O 64-bit', 'application/x-mach-binary', 'cffaedfe'],
  ['Mach-O', 'Mach-O 32-bit', 'application/x-mach-binary', 'cefaedfe'],
  ['PDF', 'PDF document', 'application/pdf', '25504446'],
  ['script', 'script', 'text/x-shellscript', '2321'], // #!
];
const TABLE = MAGIC.map(([kind, description, contentType, hex, at = 0]) => ({
  type: { kind, description, contentType },
  bytes: Buffer.from(hex, 'hex'),
  at,
}));

const HTML: MagicType = { kind: 'HTML', description: 'HTML document', contentType: 'text/html' };
const TEXT: MagicType = { kind: 'text', description: 'ASCII text', contentType: 'text/plain' };
const DATA: MagicType = {
  kind: 'data',
  description: 'data',
  contentType: 'application/octet-stream',
};

export function magicType(data: Uint8Array): MagicType {
  for (const { bytes, at, type } of TABLE)
    if (data.length >= at + bytes.length && bytes.every((b, i) => data[at + i] === b)) return type;
  const head = data.subarray(0, 512);
  if (!head.length || !head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)))
    return DATA;
  const start = String.fromCharCode(...head.subarray(0, 64))
    .trimStart()
    .toLowerCase();
  return start.startsWith('<!doctype html') || start.startsWith('<html') ? HTML : TEXT;
}

export function sniffContentType(data: Uint8Array): string {
  return magicType(data).contentType;
}
