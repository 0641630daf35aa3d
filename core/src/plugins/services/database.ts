// ctx.db: one `pg` pool per plugin with the database capability, on the URL
// the operator gives it (plugins.databases.<name>). A database that is down
// or unreachable is HT_PLUGIN_UNAVAILABLE (at-least-once reports are kept and
// retried); an SQL error is the plugin's own (HT_PLUGIN_THREW, with the
// SQLSTATE). A transaction runs on one client: BEGIN, the statements, COMMIT,
// or ROLLBACK on the first failure.
import pg from 'pg';
import type { ResolvedConfig } from '../../generated/config-resolved.js';
import { PluginError, type DbCall, type DbResult, type DbStatement } from '../engine.js';

/** How long getting a connection may take before the database counts as down. */
const CONNECT_TIMEOUT_MS = 5000;
/** Statements in one transaction at most. */
const MAX_STATEMENTS = 1000;

type ErrorCode = ConstructorParameters<typeof PluginError>[0];

/**
 * Whether `err` says the database cannot be reached now (worth a retry)
 * rather than the statement being wrong: socket errors and pool timeouts have
 * no SQLSTATE; class 08 is connection exceptions, 57P0x the server shutting
 * down or starting, 53 insufficient resources.
 */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code.startsWith('57P') || code.startsWith('53');
}

export class PluginDatabase {
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(
    readonly plugin: string,
    cfg: ResolvedConfig['plugins']['databases'][string],
  ) {
    this.pool = new pg.Pool({
      connectionString: cfg.url,
      max: cfg.poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
    });
    // An idle client losing its server must not crash the daemon; the next query reports it.
    this.pool.on('error', () => {});
  }

  private error(err: unknown): PluginError {
    const e = err as { code?: unknown; message?: unknown };
    const message = e instanceof Error ? e.message : String(err);
    const down = isUnavailable(err);
    const code: ErrorCode = down ? 'HT_PLUGIN_UNAVAILABLE' : 'HT_PLUGIN_THREW';
    const what = down
      ? `the database (plugins.databases.${this.plugin}) is unavailable: ${message || String(e.code)}`
      : `${message} (SQLSTATE ${String(e.code)})`;
    return new PluginError(code, this.plugin, `ctx.db: ${what}`, err);
  }

  private statement(s: unknown, where: string): DbStatement {
    const st = s as Partial<DbStatement> | null;
    if (typeof st !== 'object' || st === null || typeof st.sql !== 'string' || st.sql === '')
      throw new PluginError('HT_PLUGIN_DENIED', this.plugin, `ctx.db: ${where} needs sql: string`);
    if (st.params !== undefined && !Array.isArray(st.params))
      throw new PluginError(
        'HT_PLUGIN_DENIED',
        this.plugin,
        `ctx.db: ${where} params must be an array`,
      );
    return { sql: st.sql, params: st.params ?? [] };
  }

  /** Serves one call; rejects with a PluginError. */
  async call(c: DbCall): Promise<DbResult | DbResult[]> {
    if (this.closed)
      throw new PluginError('HT_PLUGIN_UNAVAILABLE', this.plugin, 'ctx.db: the pool is closed');
    if (c.op === 'query') {
      const s = this.statement(c, 'query');
      try {
        const r = await this.pool.query(s.sql, s.params);
        return { rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? 0 };
      } catch (err) {
        throw this.error(err);
      }
    }
    if (c.op === 'transaction') {
      if (!Array.isArray(c.statements) || c.statements.length > MAX_STATEMENTS)
        throw new PluginError(
          'HT_PLUGIN_DENIED',
          this.plugin,
          `ctx.db: transaction needs an array of at most ${MAX_STATEMENTS} statements`,
        );
      const statements = c.statements.map((s, i) => this.statement(s, `statement ${i}`));
      return this.transaction(statements);
    }
    throw new PluginError(
      'HT_PLUGIN_DENIED',
      this.plugin,
      `ctx.db: unknown operation ${JSON.stringify((c as { op?: unknown }).op)}`,
    );
  }

  private async transaction(statements: DbStatement[]): Promise<DbResult[]> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.error(err);
    }
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const out: DbResult[] = [];
      for (const s of statements) {
        const r = await client.query(s.sql, s.params);
        out.push({ rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? 0 });
      }
      await client.query('COMMIT');
      return out;
    } catch (err) {
      // A client whose connection failed is dropped from the pool, not reused.
      if (isUnavailable(err)) broken = err;
      else await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      throw this.error(err);
    } finally {
      client.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }
}
