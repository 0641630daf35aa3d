// Reads attacks for the honeytrap command: through a running daemon's control
// socket, or straight from the store when no daemon holds it.
import { request } from 'node:http';
import { HoneytrapError } from '../errors.js';
import type { Attack } from '../generated/attack.js';
import { AttackStore, type ListFilter } from '../store/attack-store.js';
import type { DaemonStats } from '../daemon.js';
import { toListQuery } from './query.js';

export interface AttackSource {
  /** "daemon" when answered through the control socket, else "store". */
  via: 'daemon' | 'store';
  list(f: ListFilter): Promise<Attack[]>;
  get(id: string): Promise<Attack | undefined>;
  close(): Promise<void>;
}

export function getJson(
  socketPath: string,
  path: string,
  method: 'GET' | 'POST' = 'GET',
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, timeout: 60_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        try {
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(parts).toString('utf8')),
          });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('control socket timed out')));
    req.on('error', reject);
    req.end();
  });
}

export async function daemonStatus(socketPath: string): Promise<DaemonStats | undefined> {
  try {
    const r = await getJson(socketPath, '/status');
    return r.status === 200 ? (r.body as DaemonStats) : undefined;
  } catch {
    return undefined;
  }
}

/** How long a reader waits for a store another reader (a honeytrap command) holds for a moment. */
const LOCK_WAIT_MS = 3000;

function daemonSource(socketPath: string): AttackSource {
  const call = async (path: string) => {
    const r = await getJson(socketPath, path);
    if (r.status === 404) return undefined;
    if (r.status !== 200)
      throw new HoneytrapError(
        'HT_CONTROL',
        `daemon answered ${r.status}: ${JSON.stringify(r.body)}`,
      );
    return r.body;
  };
  return {
    via: 'daemon',
    list: async (f) => ((await call(`/attacks?${toListQuery(f)}`)) ?? []) as Attack[],
    get: async (id) => (await call(`/attacks/${encodeURIComponent(id)}`)) as Attack | undefined,
    close: () => Promise.resolve(),
  };
}

export async function openAttackSource(
  storePath: string,
  socketPath: string,
): Promise<AttackSource> {
  if (await daemonStatus(socketPath)) return daemonSource(socketPath);
  // LevelDB has one process at a time: another honeytrap command reading the
  // store holds it for a moment, and a daemon that is starting holds it before
  // its control socket answers. Wait a little for either before giving up.
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const store = await AttackStore.open(storePath);
      return {
        via: 'store',
        list: (f) => store.list(f),
        get: (id) => store.get(id),
        close: () => store.close(),
      };
    } catch (err) {
      if (!(err instanceof HoneytrapError && err.code === 'HT_STORE_LOCKED')) throw err;
      if (Date.now() >= deadline)
        throw new HoneytrapError(
          'HT_STORE_LOCKED',
          `store ${storePath} is held by another process: a daemon whose control socket ${socketPath} does not answer, or another honeytrap command`,
          { file: storePath, cause: err },
        );
    }
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    if (await daemonStatus(socketPath)) return daemonSource(socketPath);
  }
}
