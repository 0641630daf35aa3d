// describeFile: the hashes, size and type of a file (a download, an
// artifact), for plugins. Run-time code: `honeytrap-plugin build` bundles it
// into a worker plugin, so it imports only node:crypto (allowed in the
// worker) and core's magic table, which itself imports nothing. The table is
// imported directly rather than through ./core.js, which pulls in the engines.
import { createHash } from 'node:crypto';
import { magicType } from '@honeytrap/core/dist/plugins/file-type.js';

export interface FileDescription {
  size: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  /** Short kind by magic: ELF, PE, MS-DOS, Mach-O, archive, PDF, script, HTML, text or data. */
  fileType: string;
  /** What it is in more words, e.g. "ELF 32-bit LSB executable, ARM", "PE32 executable (GUI) Intel 80386", "POSIX shell script". */
  fileDescription: string;
  /** The content type the daemon would sniff for it. */
  contentType: string;
}

/** The hashes, size and type of `data`. */
export function describeFile(data: Uint8Array): FileDescription {
  const hash = (algorithm: string) => createHash(algorithm).update(data).digest('hex');
  const magic = magicType(data);
  const detail =
    magic.kind === 'ELF'
      ? { fileType: 'ELF', fileDescription: describeElf(data) }
      : magic.kind === 'PE'
        ? describePe(data)
        : magic.kind === 'script'
          ? { fileType: 'script', fileDescription: describeScript(data) }
          : { fileType: magic.kind, fileDescription: magic.description };
  return {
    size: data.length,
    md5: hash('md5'),
    sha1: hash('sha1'),
    sha256: hash('sha256'),
    sha512: hash('sha512'),
    ...detail,
    contentType: magic.contentType,
  };
}

const ELF_TYPES: Record<number, string> = {
  1: 'relocatable',
  2: 'executable',
  3: 'shared object',
  4: 'core file',
};

/** e_machine values seen in honeypot downloads (IoT bot builds for every architecture). */
const ELF_MACHINES: Record<number, string> = {
  2: 'SPARC',
  3: 'Intel 80386',
  4: 'Motorola m68k',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  40: 'ARM',
  42: 'Renesas SH',
  43: 'SPARC V9',
  62: 'x86-64',
  183: 'ARM aarch64',
  243: 'RISC-V',
};

/** "ELF 32-bit LSB executable, ARM", from the identification bytes and the header's type and machine. */
function describeElf(d: Uint8Array): string {
  if (d.length < 20) return 'ELF (truncated header)';
  const bits = d[4] === 1 ? '32-bit' : d[4] === 2 ? '64-bit' : 'invalid class';
  const little = d[5] !== 2;
  const u16 = (o: number) => (little ? d[o]! | (d[o + 1]! << 8) : (d[o]! << 8) | d[o + 1]!);
  const type = ELF_TYPES[u16(16)] ?? `type ${u16(16)}`;
  const machine = ELF_MACHINES[u16(18)] ?? `machine ${u16(18)}`;
  return `ELF ${bits} ${little ? 'LSB' : 'MSB'} ${type}, ${machine}`;
}

const PE_MACHINES: Record<number, string> = {
  0x14c: 'Intel 80386',
  0x8664: 'x86-64',
  0x1c0: 'ARM',
  0x1c4: 'ARMv7 Thumb',
  0xaa64: 'Aarch64',
  0x200: 'Intel Itanium',
};

/** PE32/PE32+ with its subsystem and machine, from the PE header e_lfanew points at; MS-DOS without one. */
function describePe(d: Uint8Array): { fileType: string; fileDescription: string } {
  const u16 = (o: number) => d[o]! | (d[o + 1]! << 8);
  const dos = { fileType: 'MS-DOS', fileDescription: 'MS-DOS executable' };
  if (d.length < 0x40) return dos;
  const pe = (u16(0x3c) | (u16(0x3e) << 16)) >>> 0;
  if (pe + 24 + 70 > d.length || d[pe] !== 0x50 || d[pe + 1] !== 0x45 || d[pe + 2] || d[pe + 3])
    return dos;
  const machine = PE_MACHINES[u16(pe + 4)] ?? `machine 0x${u16(pe + 4).toString(16)}`;
  const dll = (u16(pe + 22) & 0x2000) !== 0;
  const opt = pe + 24;
  const format = u16(opt) === 0x20b ? 'PE32+' : 'PE32';
  const subsystem = u16(opt + 68);
  const kind = dll ? 'DLL' : subsystem === 2 ? 'GUI' : subsystem === 3 ? 'console' : 'native';
  return { fileType: 'PE', fileDescription: `${format} executable (${kind}) ${machine}` };
}

const INTERPRETERS: Record<string, string> = {
  sh: 'POSIX shell script',
  bash: 'Bourne-Again shell script',
  dash: 'POSIX shell script',
  ash: 'POSIX shell script',
  busybox: 'POSIX shell script',
  perl: 'Perl script',
  python: 'Python script',
  python2: 'Python script',
  python3: 'Python script',
  php: 'PHP script',
  ruby: 'Ruby script',
  node: 'Node.js script',
};

/** The script's kind from its #! line: the interpreter's name (through /usr/bin/env). */
function describeScript(d: Uint8Array): string {
  const line = String.fromCharCode(...d.subarray(2, 128)).split(/[\r\n]/, 1)[0]!;
  const words = line.trim().split(/[ \t]+/);
  let interpreter = (words[0] ?? '').split('/').pop() ?? '';
  if (interpreter === 'env') interpreter = words.find((w, i) => i > 0 && !w.startsWith('-')) ?? '';
  return INTERPRETERS[interpreter] ?? (interpreter ? `${interpreter} script` : 'script');
}
