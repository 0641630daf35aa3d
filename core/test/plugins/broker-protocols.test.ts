// The broker's protocol details that decide where bytes go: the PASV/EPSV
// replies (only the port is used), FTP and TFTP paths, the TFTP read request
// and option acknowledgement.
import { describe, expect, test } from 'vitest';
import { epsvPort, ftpPath, pasvPort } from '../../src/plugins/broker/ftp.js';
import { TFTP_BLKSIZE, parseOack, rrq, tftpFile } from '../../src/plugins/broker/tftp.js';

describe('ftp', () => {
  test('PASV: the port only, whatever address the reply names', () => {
    expect(pasvPort('227 Entering Passive Mode (10,99,66,3,156,64).')).toBe(40000);
    expect(pasvPort('227 =127,0,0,1,0,25')).toBe(25);
    expect(() => pasvPort('227 nothing here')).toThrow(/cannot parse the PASV reply/);
  });

  test('EPSV', () => {
    expect(epsvPort('229 Entering Extended Passive Mode (|||6446|)')).toBe(6446);
    expect(epsvPort('229 (!!!21!)')).toBe(21);
    expect(() => epsvPort('229 (|||x|)')).toThrow(/cannot parse the EPSV reply/);
  });

  test('paths are relative to the login folder; %2F makes one absolute (RFC 1738)', () => {
    expect(ftpPath(new URL('ftp://h/pub/a%20b.bin'))).toBe('pub/a b.bin');
    expect(ftpPath(new URL('ftp://h/%2Fetc/x'))).toBe('/etc/x');
  });
});

describe('tftp', () => {
  test('RRQ: octet mode, blksize and tsize asked for', () => {
    expect(rrq('boot/x.bin').toString('latin1')).toBe(
      `\0\x01boot/x.bin\0octet\0blksize\0${TFTP_BLKSIZE}\0tsize\x000\0`,
    );
    expect(tftpFile(new URL('tftp://h:69/boot/x%2Ebin'))).toBe('boot/x.bin');
  });

  test('OACK options, names lowercased', () => {
    expect(parseOack(Buffer.from('BLKSIZE\x001024\0tsize\x005000\0', 'latin1'))).toEqual({
      blksize: '1024',
      tsize: '5000',
    });
  });
});
