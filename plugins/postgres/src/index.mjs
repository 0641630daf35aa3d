// postgres: every attack, its plugin records, findings and artifacts into
// PostgreSQL, through the host's database pool (ctx.db). An output plugin:
// it takes report tasks (each attack once every analysis plugin is done with
// it), delivered at least once; the host keeps a report in its outbox until
// this plugin has stored it, retrying with backoff while the database is down.
//
// Built by `honeytrap-plugin build` into dist/index.mjs, with the SQL of
// src/migrations inlined.
import { migrate } from './migrate.mjs';
import { MIGRATIONS } from './migrations.mjs';
import { reportStatements } from './rows.mjs';

/** @typedef {import('@honeytrap/sdk').WorkerPlugin} WorkerPlugin */

/**
 * The migration of this worker thread: once it succeeded, later reports skip
 * it; a failure (database down) is forgotten so the next report tries again.
 * @type {Promise<void> | undefined}
 */
let migrated;

function ensureSchema(ctx) {
  migrated ??= migrate(ctx.db, MIGRATIONS).then(
    ({ applied, unknown }) => {
      if (applied.length) ctx.log(`applied migrations ${applied.join(', ')}`);
      if (unknown.length)
        ctx.log(
          `the database has migrations this version does not know (${unknown.join(', ')}): a newer version of the plugin wrote to it`,
        );
    },
    (err) => {
      migrated = undefined;
      throw err;
    },
  );
  return migrated;
}

/** @type {WorkerPlugin} */
export default {
  async analyze(input, ctx) {
    if (input.kind !== 'report') return undefined;
    await ensureSchema(ctx);
    const results = await ctx.db.transaction(reportStatements(input, ctx.config));
    if (results[0]?.rowCount === 0) ctx.log(`attack ${input.attack.id} was already stored`);
    return undefined;
  },
};
