// Attack ids are ULIDs: unique, and their text order is start-time order,
// which makes the primary key the time index.
import { encodeTime, monotonicFactory } from 'ulid';

// Ids need to be unique and ordered, not unguessable: V8's Math.random
// (seeded from the OS at start) instead of a crypto call per connection,
// which cost ~3% of the daemon's CPU under connection churn.
const next = monotonicFactory(() => Math.random());

export function newAttackId(nowMs: number = Date.now()): string {
  return next(nowMs);
}

/** The smallest id of a session that started at or after `ms`. */
export function idLowerBound(ms: number): string {
  return encodeTime(Math.max(0, Math.floor(ms)), 10) + '0'.repeat(16);
}
