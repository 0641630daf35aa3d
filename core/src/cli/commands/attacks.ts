// honeytrap attacks list|show: read attack strings, from a running daemon or the store.
import { existsSync } from 'node:fs';
import { openAttackSource } from '../../control/client.js';
import { HoneytrapError } from '../../errors.js';
import type { ListFilter } from '../../store/attack-store.js';
import { resolveStore, type StoreOptions } from '../context.js';
import { attackDetail, attackTable } from '../format.js';
import { parseSince } from '../since.js';

export interface ListOptions extends StoreOptions {
  since?: string;
  port?: string;
  source?: string;
  limit?: string;
  json?: boolean;
}

function parsePortOption(text: string): Pick<ListFilter, 'port' | 'proto'> {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(text);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535)
    throw new Error(`--port "${text}": expected a port such as 2323 or 5060/udp`);
  return m[2] ? { port, proto: m[2] as 'tcp' | 'udp' } : { port };
}

async function source(opts: StoreOptions) {
  const where = await resolveStore(opts);
  if (!existsSync(where.store))
    throw new HoneytrapError(
      'HT_NOT_FOUND',
      `no store at ${where.store} (has the daemon run with this config?)`,
      {
        file: where.store,
      },
    );
  return openAttackSource(where.store, where.socket);
}

export async function listCommand(opts: ListOptions): Promise<void> {
  const filter: ListFilter = { limit: opts.limit ? Number(opts.limit) : 50 };
  if (!Number.isInteger(filter.limit) || (filter.limit ?? 0) < 1)
    throw new Error(`--limit "${opts.limit}": expected a positive integer`);
  if (opts.since) filter.sinceMs = parseSince(opts.since);
  if (opts.port) Object.assign(filter, parsePortOption(opts.port));
  if (opts.source) filter.source = opts.source;
  const src = await source(opts);
  try {
    const attacks = await src.list(filter);
    process.stdout.write(
      opts.json ? JSON.stringify(attacks, null, 2) + '\n' : attackTable(attacks) + '\n',
    );
  } finally {
    await src.close();
  }
}

export async function showCommand(
  id: string,
  opts: StoreOptions & { json?: boolean },
): Promise<void> {
  const src = await source(opts);
  try {
    const attack = await src.get(id.toUpperCase());
    if (!attack) throw new HoneytrapError('HT_NOT_FOUND', `no attack with id ${id}`);
    process.stdout.write(
      (opts.json ? JSON.stringify(attack, null, 2) : attackDetail(attack)) + '\n',
    );
  } finally {
    await src.close();
  }
}
