/**
 * A real PostgreSQL server (Debian's postgresql package) for host tests: its
 * own cluster in a temp folder, owned by the `postgres` user (initdb refuses
 * root), listening on loopback only, trust authentication.
 *
 * API:
 * - `startPostgres({port?, database?})` -> `Postgres`: initdb + pg_ctl start,
 *   waits until it accepts connections; `database` (default "honeytrap") is
 *   created.
 * - `pg.url`: `postgres://postgres@127.0.0.1:<port>/<database>`, for
 *   plugins.databases.<name>.url.
 * - `pg.query(sql, params?)`: rows of one query (a fresh `pg` client each call).
 * - `pg.stop()` / `pg.start()`: stop (fast shutdown) and start again on the same
 *   port and data, e.g. to test "database down" paths.
 * - `pg.remove()`: stop if running and delete the folder. `removeAllPostgres()`
 *   does that for every server still around (call it in afterAll); a process
 *   exit hook stops them as a last resort.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { sleep } from './clients.js';
import { freePort, LOOPBACK } from './ports.js';
import { onExit } from './on-exit.js';

const run = promisify(execFile);

/** The newest installed server version's binaries (Debian: /usr/lib/postgresql/<v>/bin). */
function binDir(): string {
  const out = execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1'], {
    encoding: 'utf8',
  }).trim();
  if (!out) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  return out;
}

const servers = new Set<Postgres>();

onExit(() => {
  for (const s of servers) s.killSync();
});

/** Runs a postgres binary as the postgres user. */
async function asPostgres(bin: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('runuser', ['-u', 'postgres', '--', bin, ...args], {
      timeout: 60_000,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

export class Postgres {
  running = false;

  constructor(
    readonly dir: string,
    readonly port: number,
    readonly database: string,
    private readonly bin: string,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@${LOOPBACK}:${this.port}/${this.database}`;
  }

  /** Starts the server and waits until it accepts connections (pg_ctl -w). */
  async start(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=${LOOPBACK} -c fsync=off`;
    await asPostgres(join(this.bin, 'pg_ctl'), [
      'start',
      '-w',
      '-t',
      '30',
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'server.log'),
      '-o',
      opts,
    ]);
    this.running = true;
  }

  /** Fast shutdown: open connections are ended. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await asPostgres(join(this.bin, 'pg_ctl'), ['stop', '-w', '-m', 'fast', '-D', this.dataDir]);
    this.running = false;
  }

  /** Immediate stop without waiting (exit hook). */
  killSync(): void {
    if (!this.running) return;
    try {
      execFileSync('runuser', [
        '-u',
        'postgres',
        '--',
        join(this.bin, 'pg_ctl'),
        'stop',
        '-m',
        'immediate',
        '-D',
        this.dataDir,
      ]);
    } catch {
      /* already gone */
    }
    this.running = false;
  }

  async query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    database = this.database,
  ): Promise<R[]> {
    const client = new pg.Client({
      host: LOOPBACK,
      port: this.port,
      user: 'postgres',
      database,
    });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  async remove(): Promise<void> {
    await this.stop().catch(() => this.killSync());
    servers.delete(this);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A fresh cluster on a free loopback port (or `port`), started, with `database` created. */
export async function startPostgres(
  opts: { port?: number; database?: string } = {},
): Promise<Postgres> {
  const bin = binDir();
  // Not makeTempDir: the folder must belong to the postgres user.
  const dir = mkdtempSync(join(tmpdir(), 'hts-postgres-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  const server = new Postgres(
    dir,
    opts.port ?? (await freePort()),
    opts.database ?? 'honeytrap',
    bin,
  );
  servers.add(server);
  try {
    await asPostgres(join(bin, 'initdb'), [
      '-D',
      server.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    await server.start();
    // pg_ctl -w returns when the server answers; a first connection can still race its startup.
    for (let i = 0; ; i++) {
      try {
        await server.query(`CREATE DATABASE "${server.database}"`, [], 'postgres');
        break;
      } catch (err) {
        if (i >= 50) throw err;
        await sleep(100);
      }
    }
    return server;
  } catch (err) {
    await server.remove();
    throw err;
  }
}

/** Stops and removes every server this process started. */
export async function removeAllPostgres(): Promise<void> {
  await Promise.all([...servers].map((s) => s.remove()));
}
