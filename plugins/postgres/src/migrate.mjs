// Migrations: the SQL files of src/migrations, applied in order, recorded in
// schema_migrations. Each run of pending migrations is one transaction that
// first takes an advisory lock, so two tasks (or two sensors) starting at once
// on an empty database apply them once: the second waits for the lock, then
// its INSERT into schema_migrations collides with the first's, its
// transaction rolls back, and it finds nothing left to do.

/** pg_advisory_xact_lock key of this plugin's migrations (any constant; "htpg" in ASCII). */
export const LOCK_KEY = 0x68747067;

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * @typedef {{ version: number, name: string, sql: string }} Migration
 * @typedef {{ rows: Record<string, unknown>[], rowCount: number }} DbResult
 * @typedef {{
 *   query(sql: string, params?: unknown[]): Promise<DbResult>,
 *   transaction(statements: { sql: string, params?: unknown[] }[]): Promise<DbResult[]>,
 * }} Db
 */

/**
 * The versions recorded in schema_migrations (none when the table is missing).
 * @param {Db} db
 * @returns {Promise<Set<number>>}
 */
export async function appliedVersions(db) {
  const present = await db.query(`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`);
  if (!present.rows[0]?.present) return new Set();
  const { rows } = await db.query('SELECT version FROM schema_migrations');
  return new Set(rows.map((r) => Number(r.version)));
}

/** True when `err` is a unique violation (SQLSTATE 23505), as ctx.db reports it. */
const isUniqueViolation = (err) =>
  err instanceof Error && /SQLSTATE 23505|duplicate key value/.test(err.message);

/**
 * Applies the migrations the database does not have, in version order.
 * @param {Db} db
 * @param {Migration[]} migrations
 * @returns {Promise<{ applied: string[], unknown: number[] }>} the names applied now, and
 *   versions the database has that this plugin does not know (a newer plugin migrated it)
 */
export async function migrate(db, migrations) {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i].version === sorted[i - 1].version)
      throw new Error(`two migrations have version ${sorted[i].version}`);
  for (let attempt = 0; ; attempt++) {
    const applied = await appliedVersions(db);
    const known = new Set(sorted.map((m) => m.version));
    const unknown = [...applied].filter((v) => !known.has(v)).sort((a, b) => a - b);
    const pending = sorted.filter((m) => !applied.has(m.version));
    if (pending.length === 0) return { applied: [], unknown };
    try {
      await db.transaction([
        { sql: 'SELECT pg_advisory_xact_lock($1)', params: [LOCK_KEY] },
        { sql: MIGRATIONS_TABLE },
        ...pending.flatMap((m) => [
          {
            sql: 'INSERT INTO schema_migrations (version, name) VALUES ($1, $2)',
            params: [m.version, m.name],
          },
          // no params: sent as a simple query, so a file may hold several statements
          { sql: m.sql },
        ]),
      ]);
      return { applied: pending.map((m) => m.name), unknown };
    } catch (err) {
      // another task applied them between our look and our lock: look again
      if (attempt < 3 && isUniqueViolation(err)) continue;
      throw err;
    }
  }
}
