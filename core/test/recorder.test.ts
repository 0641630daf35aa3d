// The per-session recorder: bounded per direction, with chunk timing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_CHUNKS, Recorder, type AttackMeta } from '../src/attack/recorder.js';
import type { Attack } from '../src/generated/attack.js';
import { paths } from '../src/paths.js';

const meta: AttackMeta = {
  id: '01JN0000000000000000000000',
  sensor: 'test',
  proto: 'tcp',
  local: { address: '::1', port: 2323 },
  remote: { address: '1.2.3.4', port: 40000 },
  mode: 'normal',
  endReason: 'closed',
};

const ajv = new Ajv({ allErrors: true });
// ajv-formats is CommonJS: under NodeNext its default import is module.exports.
ajvFormats.default(ajv);
const validateAttack = ajv.compile<Attack>(
  JSON.parse(readFileSync(join(paths.schemas, 'attack.schema.json'), 'utf8')) as object,
);

function expectSchemaValid(attack: unknown): void {
  const ok = validateAttack(attack);
  expect(ajv.errorsText(validateAttack.errors)).toBe('No errors');
  expect(ok).toBe(true);
}

const bytes = (a: Attack['received']) => Buffer.from(a.data, 'base64');

afterEach(() => {
  vi.useRealTimers();
});

describe('Recorder', () => {
  it('keeps what was sent and received', () => {
    const r = new Recorder(1024);
    r.record('out', Buffer.from('login: '));
    r.record('in', Buffer.from('root\r\n'));
    r.record('in', Buffer.from('123456\r\n'));
    const a = r.finish(meta);
    expect(bytes(a.received).toString()).toBe('root\r\n123456\r\n');
    expect(a.received).toMatchObject({ length: 14, truncated: false });
    expect(bytes(a.sent).toString()).toBe('login: ');
    expect(a.sent).toMatchObject({ length: 7, truncated: false });
  });

  it('keeps at most the read limit per direction, counts everything and flags truncation', () => {
    const r = new Recorder(10);
    r.record('in', Buffer.from('abcdef'));
    r.record('in', Buffer.from('ghijkl'));
    r.record('in', Buffer.from('mnop'));
    r.record('out', Buffer.from('0123456789'));
    const a = r.finish(meta);
    expect(bytes(a.received).toString()).toBe('abcdefghij');
    expect(a.received).toMatchObject({ length: 16, truncated: true });
    // The other direction has its own limit: exactly full is not truncated.
    expect(bytes(a.sent).toString()).toBe('0123456789');
    expect(a.sent).toMatchObject({ length: 10, truncated: false });
  });

  it('with a read limit of 0 keeps nothing but still counts', () => {
    const r = new Recorder(0);
    r.record('in', Buffer.from('hello'));
    const a = r.finish(meta);
    expect(a.received).toEqual({ length: 5, data: '', truncated: true });
    expect(a.sent).toEqual({ length: 0, data: '', truncated: false });
    expect(a.chunks).toEqual([{ dir: 'in', atMs: 0, length: 0 }]);
  });

  it('copies what it keeps', () => {
    const r = new Recorder(100);
    const buf = Buffer.from('original');
    r.record('in', buf);
    buf.write('CHANGED!');
    expect(bytes(r.finish(meta).received).toString()).toBe('original');
  });

  it('times each chunk from the start, with the bytes kept of it', () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'], now: Date.parse('2026-03-01T12:00:00Z') });
    const r = new Recorder(8);
    r.record('out', Buffer.from('banner'));
    vi.advanceTimersByTime(250);
    r.record('in', Buffer.from('hello'));
    r.record('in', Buffer.alloc(0));
    vi.advanceTimersByTime(1000);
    r.record('in', Buffer.from('world'));
    r.record('in', Buffer.from('more'));
    vi.advanceTimersByTime(50);
    const a = r.finish(meta);
    expect(a.chunks).toEqual([
      { dir: 'out', atMs: 0, length: 6 },
      { dir: 'in', atMs: 250, length: 5 },
      { dir: 'in', atMs: 1250, length: 3 },
      { dir: 'in', atMs: 1250, length: 0 },
    ]);
    expect(a.startedAt).toBe('2026-03-01T12:00:00.000Z');
    expect(a.endedAt).toBe('2026-03-01T12:00:01.300Z');
    expect(a.received).toMatchObject({ length: 14, truncated: true });
  });

  it(`keeps at most ${MAX_CHUNKS} chunk timings and flags the rest`, () => {
    const r = new Recorder(1 << 20);
    const one = Buffer.from('x');
    for (let i = 0; i < MAX_CHUNKS; i++) r.record('in', one);
    expect(r.finish(meta).chunksTruncated).toBeUndefined();
    r.record('out', Buffer.from('late'));
    r.record('in', one);
    const a = r.finish(meta);
    expect(a.chunks).toHaveLength(MAX_CHUNKS);
    expect(a.chunksTruncated).toBe(true);
    // The bytes are still recorded; only their timing is not.
    expect(a.received.length).toBe(MAX_CHUNKS + 1);
    expect(bytes(a.sent).toString()).toBe('late');
    expectSchemaValid(a);
  });

  it('produces an attack that matches schemas/attack.schema.json', () => {
    const r = new Recorder(4);
    r.record('out', Buffer.from([0xff, 0xfb, 0x01]));
    r.record('in', Buffer.from([0x00, 0x01, 0x02, 0x03, 0x04, 0x05]));
    const udpMeta: AttackMeta = { ...meta, proto: 'udp', mode: 'ignore', endReason: 'read-limit' };
    const a = r.finish(udpMeta);
    expect(a).toMatchObject({ ...udpMeta, schemaVersion: 1, plugins: {} });
    expect(Date.parse(a.endedAt)).toBeGreaterThanOrEqual(Date.parse(a.startedAt));
    expectSchemaValid(a);
    expectSchemaValid({ ...a, template: '23_tcp', error: 'ECONNRESET' });
    // The validator does refuse what the schema does not allow.
    expect(validateAttack({ ...a, startedAt: 'yesterday' })).toBe(false);
    expect(validateAttack({ ...a, received: { length: 1, data: '' } })).toBe(false);
    expect(validateAttack({ ...a, extra: 1 })).toBe(false);
  });
});
