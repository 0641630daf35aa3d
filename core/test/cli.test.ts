// Pieces of the honeytrap command: hexdump, --since, and the control-socket query.
import { describe, expect, it } from 'vitest';
import { hexdump } from '../src/cli/hexdump.js';
import { parseSince } from '../src/cli/since.js';
import { parseListQuery, toListQuery } from '../src/control/query.js';
import type { ListFilter } from '../src/store/attack-store.js';

describe('hexdump', () => {
  // 20 bytes: a full line (with CR LF) and a partial one of non-printables.
  const buf = Buffer.from('GET / HTTP/1.1\r\n\x00\x01\xff\x7f', 'latin1');

  it('prints as hexdump -C does, 16 bytes a line', () => {
    expect(buf).toHaveLength(20);
    expect(hexdump(buf)).toBe(
      [
        '00000000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  |GET / HTTP/1.1..|',
        '00000010  00 01 ff 7f                                       |....|',
      ].join('\n'),
    );
  });

  it('indents every line', () => {
    expect(hexdump(buf, '  ').split('\n')).toEqual([
      '  00000000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  |GET / HTTP/1.1..|',
      '  00000010  00 01 ff 7f                                       |....|',
    ]);
  });

  it('splits the hex in halves of 8 and counts offsets in hex', () => {
    const lines = hexdump(Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz0123456789')).split(
      '\n',
    );
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe(
      '00000010  67 68 69 6a 6b 6c 6d 6e  6f 70 71 72 73 74 75 76  |ghijklmnopqrstuv|',
    );
    expect(lines[2]).toBe(
      '00000020  77 78 79 7a 30 31 32 33  34 35 36 37 38 39        |wxyz0123456789|',
    );
  });

  it('says (none) for no bytes', () => {
    expect(hexdump(Buffer.alloc(0))).toBe('(none)');
    expect(hexdump(Buffer.alloc(0), '    ')).toBe('    (none)');
  });
});

describe('parseSince', () => {
  const now = Date.parse('2026-03-01T12:00:00.000Z');

  it('takes a duration back from now', () => {
    expect(parseSince('15m', now)).toBe(now - 15 * 60_000);
    expect(parseSince('2h', now)).toBe(now - 2 * 3_600_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('30s', now)).toBe(now - 30_000);
  });

  it('takes a date', () => {
    expect(parseSince('2026-02-28T10:00:00Z', now)).toBe(Date.parse('2026-02-28T10:00:00Z'));
    expect(parseSince('2026-11-25T10:00Z', now)).toBe(Date.parse('2026-11-25T10:00:00Z'));
    expect(parseSince('2026-02-28', now)).toBe(Date.parse('2026-02-28T00:00:00Z'));
  });

  it('uses the current time by default', () => {
    const before = Date.now();
    const t = parseSince('1h');
    expect(t).toBeGreaterThanOrEqual(before - 3_600_000);
    expect(t).toBeLessThanOrEqual(Date.now() - 3_600_000);
  });

  it('refuses anything else with what it expects', () => {
    for (const text of ['garbage', 'yesterday', '15 parsecs', '', 'hello 2020', 'March 1']) {
      expect(() => parseSince(text, now)).toThrow(
        `--since "${text}": expected a duration such as 15m, 2h, 7d or a date such as 2026-11-25T10:00Z`,
      );
    }
  });
});

describe('control list query', () => {
  it('round-trips a full filter', () => {
    const filter: ListFilter = {
      sinceMs: 1772366400000,
      port: 5060,
      proto: 'udp',
      source: '2001:db8::1',
      limit: 25,
    };
    const q = toListQuery(filter);
    expect(q).toBe('sinceMs=1772366400000&port=5060&proto=udp&source=2001%3Adb8%3A%3A1&limit=25');
    expect(parseListQuery(new URLSearchParams(q))).toEqual(filter);
  });

  it('round-trips a partial and an empty filter, leaving out what is undefined', () => {
    expect(toListQuery({ port: 2323, source: undefined })).toBe('port=2323');
    expect(parseListQuery(new URLSearchParams(toListQuery({ port: 2323 })))).toEqual({
      port: 2323,
    });
    expect(toListQuery({})).toBe('');
    expect(parseListQuery(new URLSearchParams(''))).toEqual({});
  });

  it('refuses numbers that are not integers', () => {
    const error = { error: 'sinceMs, port and limit must be integers' };
    for (const q of ['port=abc', 'limit=1.5', 'sinceMs=soon', 'port=80/tcp'])
      expect(parseListQuery(new URLSearchParams(q)), q).toEqual(error);
  });

  it('refuses an unknown protocol', () => {
    expect(parseListQuery(new URLSearchParams('port=1&proto=icmp'))).toEqual({
      error: 'proto must be tcp or udp',
    });
  });
});
