// The plugin through the SDK harness with a database that does not answer:
// a report fails as unavailable (the daemon then keeps it in its outbox and
// retries), naming the operator's setting. The tests against a running
// PostgreSQL (migrations, rows, replays, two threads migrating at once) are
// the repository's host tests, host-tests/plugins/postgres.test.ts, which
// start Debian's server.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HarnessError, PluginError, attackFixture, loadPlugin } from '@honeytrap/sdk';

const dir = fileURLToPath(new URL('..', import.meta.url));

/** A loopback port nothing listens on (bound, then closed). */
function closedPort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test('the database down: the report fails with HT_PLUGIN_UNAVAILABLE, naming plugins.databases.postgres', async () => {
  const url = `postgres://honeytrap@127.0.0.1:${await closedPort()}/honeytrap`;
  const p = await loadPlugin(dir, { database: { url } });
  try {
    await assert.rejects(
      p.runReport(attackFixture({ received: 'GET / HTTP/1.1\r\n\r\n' })),
      (err) => {
        assert.ok(err instanceof PluginError, String(err));
        assert.equal(err.code, 'HT_PLUGIN_UNAVAILABLE');
        assert.match(err.message, /plugins\.databases\.postgres\) is unavailable/);
        return true;
      },
    );
  } finally {
    await p.close();
  }
});

test('an output plugin: the daemon gives it reports, not attacks or artifacts', async () => {
  const p = await loadPlugin(dir, { database: { url: 'postgres://127.0.0.1:1/x' } });
  try {
    await assert.rejects(p.run(attackFixture({ received: 'x' })), HarnessError);
    await assert.rejects(
      p.runArtifact({ data: 'x' }, attackFixture({ received: 'x' })),
      HarnessError,
    );
  } finally {
    await p.close();
  }
});
