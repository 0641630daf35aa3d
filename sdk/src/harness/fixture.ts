// attackFixture(): a valid attack string for tests, from the few fields a test
// cares about. The result is checked against schemas/attack.schema.json, the
// schema of what the daemon stores and hands to plugins.
import { randomBytes } from 'node:crypto';
import formats from 'ajv-formats';
import type { Attack } from '../types.js';
import { corePaths, formatAjvErrors, newAjv } from '../core.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from './errors.js';

type Endpoint = Attack['local'];

export interface AttackFixtureOptions {
  /** What the attacker sent: text (UTF-8) or bytes. Default: nothing. */
  received?: string | Uint8Array;
  /** What was sent back. Default: nothing. */
  sent?: string | Uint8Array;
  /** The attacked (local) port. Default 80. */
  port?: number;
  /** Default tcp. */
  proto?: Attack['proto'];
  /** The attacker: an address, or address and port. Default 198.51.100.7:40000. */
  remote?: string | Partial<Endpoint>;
  /** The honeypot's address. Default 192.0.2.1. */
  localAddress?: string;
  mode?: Attack['mode'];
  template?: string;
  endReason?: Attack['endReason'];
  sensor?: string;
  /** A ULID; default: a new one for startedAt. */
  id?: string;
  /** Default: now. */
  startedAt?: Date | string;
  /** Session length. Default 50 ms. */
  durationMs?: number;
  /** Bytes kept per direction (the port's readLimit); more is cut and marked truncated. Default 65536. */
  readLimit?: number;
  /** Anything else, set last (plugins, peer, fallback, chunks…). */
  overrides?: Partial<Attack>;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID for time `ms`: 10 characters of time, 16 of randomness. */
export function ulid(ms: number = Date.now()): string {
  let time = '';
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  const rnd = randomBytes(16);
  let rand = '';
  for (const b of rnd) rand += CROCKFORD[b % 32];
  return time + rand;
}

function payload(
  data: string | Uint8Array | undefined,
  readLimit: number,
): { kept: Buffer; payload: Attack['received'] } {
  const all = data === undefined ? Buffer.alloc(0) : Buffer.from(data);
  const kept = all.subarray(0, readLimit);
  return {
    kept,
    payload: {
      length: all.length,
      data: kept.toString('base64'),
      truncated: all.length > kept.length,
    },
  };
}

type Validate = ReturnType<ReturnType<typeof newAjv>['compile']>;
let validator: Validate | undefined;

function attackValidator(): Validate {
  if (validator) return validator;
  const ajv = newAjv();
  // ajv-formats is CommonJS: its default export arrives as the module object under NodeNext types.
  const addFormats = ((formats as unknown as { default?: typeof formats }).default ??
    formats) as unknown as (a: typeof ajv) => void;
  addFormats(ajv);
  const schema = JSON.parse(
    readFileSync(join(corePaths.schemas, 'attack.schema.json'), 'utf8'),
  ) as object;
  const compiled = ajv.compile(schema);
  validator = compiled;
  return compiled;
}

/** Throws a HarnessError naming every field that makes `attack` not a valid attack string. */
export function checkAttack(attack: unknown): asserts attack is Attack {
  const validate = attackValidator();
  if (!validate(attack))
    throw new HarnessError('not a valid attack string:', formatAjvErrors(validate.errors));
}

/**
 * A valid attack string for a test.
 *
 * ```ts
 * const attack = attackFixture({ received: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', port: 8080 });
 * ```
 */
export function attackFixture(opts: AttackFixtureOptions = {}): Attack {
  const readLimit = opts.readLimit ?? 65536;
  const started = opts.startedAt === undefined ? new Date() : new Date(opts.startedAt);
  const durationMs = opts.durationMs ?? 50;
  const ended = new Date(started.getTime() + durationMs);
  const received = payload(opts.received, readLimit);
  const sent = payload(opts.sent, readLimit);
  const remote: Endpoint =
    typeof opts.remote === 'string'
      ? { address: opts.remote, port: 40000 }
      : { address: '198.51.100.7', port: 40000, ...opts.remote };
  const chunks: Attack['chunks'] = [];
  if (received.kept.length) chunks.push({ dir: 'in', atMs: 0, length: received.kept.length });
  if (sent.kept.length)
    chunks.push({ dir: 'out', atMs: Math.min(1, durationMs), length: sent.kept.length });
  const attack: Attack = {
    schemaVersion: 1,
    id: opts.id ?? ulid(started.getTime()),
    sensor: opts.sensor ?? 'plugin-test',
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
    proto: opts.proto ?? 'tcp',
    local: { address: opts.localAddress ?? '192.0.2.1', port: opts.port ?? 80 },
    remote,
    mode: opts.mode ?? 'normal',
    ...(opts.template === undefined ? {} : { template: opts.template }),
    endReason:
      opts.endReason ??
      (received.payload.truncated
        ? 'read-limit'
        : opts.proto === 'udp'
          ? 'idle-timeout'
          : 'closed'),
    received: received.payload,
    sent: sent.payload,
    chunks,
    plugins: {},
    ...opts.overrides,
  };
  checkAttack(attack);
  return attack;
}
