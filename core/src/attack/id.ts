// Attack ids are ULIDs: unique, and their text order is start-time order,
// which makes the primary key the time index.
import { encodeTime, monotonicFactory } from 'ulid';

const next = monotonicFactory();

export function newAttackId(nowMs: number = Date.now()): string {
  return next(nowMs);
}

/** The smallest id of a session that started at or after `ms`. */
export function idLowerBound(ms: number): string {
  return encodeTime(Math.max(0, Math.floor(ms)), 10) + '0'.repeat(16);
}
