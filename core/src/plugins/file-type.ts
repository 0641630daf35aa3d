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

const MAGIC: { bytes: number[]; at?: number; type: MagicType }[] = [
  {
    bytes: [0x7f, 0x45, 0x4c, 0x46],
    type: { kind: 'ELF', description: 'ELF', contentType: 'application/x-elf' },
  },
  {
    bytes: [0x4d, 0x5a],
    type: {
      kind: 'PE',
      description: 'MS-DOS or PE executable',
      contentType: 'application/x-dosexec',
    },
  },
  {
    bytes: [0x1f, 0x8b],
    type: { kind: 'archive', description: 'gzip compressed data', contentType: 'application/gzip' },
  },
  {
    bytes: [0x50, 0x4b, 0x03, 0x04],
    type: { kind: 'archive', description: 'Zip archive', contentType: 'application/zip' },
  },
  {
    bytes: [0x42, 0x5a, 0x68],
    type: {
      kind: 'archive',
      description: 'bzip2 compressed data',
      contentType: 'application/x-bzip2',
    },
  },
  {
    bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    type: { kind: 'archive', description: 'XZ compressed data', contentType: 'application/x-xz' },
  },
  {
    bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c],
    type: {
      kind: 'archive',
      description: '7-zip archive',
      contentType: 'application/x-7z-compressed',
    },
  },
  {
    bytes: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07],
    type: { kind: 'archive', description: 'RAR archive', contentType: 'application/vnd.rar' },
  },
  {
    // "ustar" in the header of the first member
    bytes: [0x75, 0x73, 0x74, 0x61, 0x72],
    at: 257,
    type: { kind: 'archive', description: 'POSIX tar archive', contentType: 'application/x-tar' },
  },
  {
    bytes: [0xcf, 0xfa, 0xed, 0xfe],
    type: {
      kind: 'Mach-O',
      description: 'Mach-O 64-bit',
      contentType: 'application/x-mach-binary',
    },
  },
  {
    bytes: [0xce, 0xfa, 0xed, 0xfe],
    type: {
      kind: 'Mach-O',
      description: 'Mach-O 32-bit',
      contentType: 'application/x-mach-binary',
    },
  },
  {
    bytes: [0x25, 0x50, 0x44, 0x46],
    type: { kind: 'PDF', description: 'PDF document', contentType: 'application/pdf' },
  },
  {
    bytes: [0x23, 0x21], // #!
    type: { kind: 'script', description: 'script', contentType: 'text/x-shellscript' },
  },
];

const HTML: MagicType = { kind: 'HTML', description: 'HTML document', contentType: 'text/html' };
const TEXT: MagicType = { kind: 'text', description: 'ASCII text', contentType: 'text/plain' };
const DATA: MagicType = {
  kind: 'data',
  description: 'data',
  contentType: 'application/octet-stream',
};

export function magicType(data: Uint8Array): MagicType {
  for (const { bytes, at = 0, type } of MAGIC)
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
