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

function getJson(socketPath: string, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: 10_000 }, (res) => {
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

export async function openAttackSource(
  storePath: string,
  socketPath: string,
): Promise<AttackSource> {
  if (await daemonStatus(socketPath)) {
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
  let store: AttackStore;
  try {
    store = await AttackStore.open(storePath);
  } catch (err) {
    if (err instanceof HoneytrapError && err.code === 'HT_STORE_LOCKED')
      throw new HoneytrapError(
        'HT_STORE_LOCKED',
        `store ${storePath} is held by a daemon whose control socket ${socketPath} does not answer`,
        { file: storePath, cause: err },
      );
    throw err;
  }
  return {
    via: 'store',
    list: (f) => store.list(f),
    get: (id) => store.get(id),
    close: () => store.close(),
  };
}
