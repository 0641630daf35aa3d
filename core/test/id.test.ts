// Attack ids: ULIDs whose text order is start-time order.
import { decodeTime } from 'ulid';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type * as IdModule from '../src/attack/id.js';

let newAttackId: typeof IdModule.newAttackId;
let idLowerBound: typeof IdModule.idLowerBound;

// The id factory is monotonic (it never goes back in time): a fresh module per
// test keeps one test's clock from leaking into the next.
beforeEach(async () => {
  vi.resetModules();
  ({ newAttackId, idLowerBound } = await import('../src/attack/id.js'));
});

const T = Date.parse('2026-03-01T12:00:00.000Z');
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe('newAttackId', () => {
  it('is a ULID carrying the given time', () => {
    const id = newAttackId(T);
    expect(id).toMatch(ULID);
    expect(decodeTime(id)).toBe(T);
  });

  it('uses the current time by default', () => {
    const before = Date.now();
    const id = newAttackId();
    expect(decodeTime(id)).toBeGreaterThanOrEqual(before);
    expect(decodeTime(id)).toBeLessThanOrEqual(Date.now());
  });

  it('sorts by time as text', () => {
    const times = [T, T + 1, T + 2, T + 999, T + 60_000, T + 86_400_000, T + 10 * 365 * 86_400_000];
    const ids = times.map((t) => newAttackId(t));
    const shuffled = [ids[3], ids[0], ids[6], ids[2], ids[5], ids[1], ids[4]] as string[];
    expect(shuffled.sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sorts ids made in the same millisecond in creation order', () => {
    const ids = Array.from({ length: 1000 }, () => newAttackId(T));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(decodeTime(id)).toBe(T);
  });
});

describe('idLowerBound', () => {
  it('is at or below every id made at t and above every id made before t', () => {
    const before = [T - 86_400_000, T - 1000, T - 1, T - 1].map((t) => newAttackId(t));
    const at = Array.from({ length: 50 }, () => newAttackId(T));
    const after = newAttackId(T + 1);
    const bound = idLowerBound(T);
    for (const id of before) expect(id < bound).toBe(true);
    for (const id of at) expect(bound <= id).toBe(true);
    expect(bound < after).toBe(true);
  });

  it('is above the largest possible id of the millisecond before', () => {
    const bound = idLowerBound(T);
    const lastOfPrevious = idLowerBound(T - 1).slice(0, 10) + 'Z'.repeat(16);
    expect(lastOfPrevious < bound).toBe(true);
    expect(bound).toMatch(ULID);
    expect(decodeTime(bound)).toBe(T);
  });

  it('rounds a fractional time down and clamps a negative one to zero', () => {
    expect(idLowerBound(T + 0.9)).toBe(idLowerBound(T));
    expect(idLowerBound(-5)).toBe('0'.repeat(26));
  });
});
