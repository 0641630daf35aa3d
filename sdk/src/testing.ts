// @honeytrap/sdk/testing: test data for plugin tests. Ordinary traffic that a
// detector must give nothing for (its false-positive corpus), and a seeded
// pseudo-random generator for "random bytes" that are the same every run.

export interface SeededRandom {
  /** The next number in [0, 1). */
  next(): number;
  /** n pseudo-random bytes. */
  bytes(n: number): Buffer;
}

/** mulberry32: a small seeded PRNG (the same sequence for the same seed, everywhere). */
export function prng(seed: number): SeededRandom {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    bytes(n) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}

/** One sample of ordinary traffic: what a client sends to `port`. */
export interface TrafficSample {
  name: string;
  port: number;
  data: string | Buffer;
}

const CRLF = (lines: string[]) => lines.join('\r\n') + '\r\n\r\n';

/**
 * What scanners, browsers and clients send every day: no encoded payload
 * and no shellcode in any of it, but long tokens, hex hashes, cookies, user
 * agents, form and JSON bodies, binary protocol headers.
 */
export const ORDINARY_TRAFFIC: readonly TrafficSample[] = [
  {
    name: 'browser GET with cookies',
    port: 80,
    data: CRLF([
      'GET /index.php?page=products&id=1234&sort=price_desc HTTP/1.1',
      'Host: shop.example.com',
      'User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
      'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8',
      'Accept-Encoding: gzip, deflate, br',
      'Accept-Language: en-US,en;q=0.9,de-DE;q=0.8',
      'Cookie: PHPSESSID=8f14e45fceea167a5a36dedd4cea2543; _ga=GA1.2.1234567890.1700000000; consent=necessary%2Cstatistics',
      'If-None-Match: W/"5e15153d-120f"',
      'Sec-Fetch-Mode: navigate',
      'Referer: https://shop.example.com/category/electronics/smartphones-and-accessories/',
    ]),
  },
  {
    name: 'Firefox on Linux, static asset',
    port: 8080,
    data: CRLF([
      'GET /wp-content/themes/twentytwentyfour/assets/fonts/inter/Inter-VariableFont_slnt,wght.woff2 HTTP/1.1',
      'Host: blog.example.org',
      'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
      'Accept: application/font-woff2;q=1.0,application/font-woff;q=0.9,*/*;q=0.8',
      'Connection: keep-alive',
    ]),
  },
  {
    name: 'zgrab / masscan probes',
    port: 80,
    data: 'GET / HTTP/1.1\r\nHost: 192.0.2.1\r\nUser-Agent: Mozilla/5.0 zgrab/0.x\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n',
  },
  {
    name: 'form login POST',
    port: 80,
    data:
      CRLF([
        'POST /wp-login.php HTTP/1.1',
        'Host: 192.0.2.1',
        'Content-Type: application/x-www-form-urlencoded',
        'Content-Length: 93',
      ]) +
      'log=administrator&pwd=Summer2024%21&wp-submit=Log+In&redirect_to=%2Fwp-admin%2F&testcookie=1',
  },
  {
    name: 'JSON API call',
    port: 8080,
    data:
      CRLF([
        'POST /api/v2/getUserInformation/details HTTP/1.1',
        'Host: api.example.com',
        'Content-Type: application/json',
        'X-Request-ID: 3f2b8c1e-9d4a-4e7b-a1c5-6f8d2e0b9a47',
      ]) +
      '{"userId":"a7f3c9e1b2d4","requestedFields":["displayName","emailAddress","lastLoginTimestamp"],"checksum":"da39a3ee5e6b4b0d3255bfef95601890afd80709"}',
  },
  { name: 'OpenSSH banner', port: 22, data: 'SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n' },
  { name: 'libssh banner', port: 2222, data: 'SSH-2.0-libssh_0.9.6\r\n' },
  {
    name: 'SMTP session',
    port: 25,
    data: 'EHLO mail.example.net\r\nMAIL FROM:<newsletter@example.net>\r\nRCPT TO:<info@example.com>\r\nQUIT\r\n',
  },
  {
    name: 'Redis probe',
    port: 6379,
    data: '*1\r\n$4\r\nINFO\r\n*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\ndbfilename\r\n',
  },
  {
    name: 'SIP OPTIONS scan',
    port: 5060,
    data: 'OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-d8754z-c2a9c44e1f6a\r\nFrom: "sipvicious"<sip:100@1.1.1.1>;tag=3461393937623237\r\nCall-ID: 1183528471937541876120456\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
  },
  {
    name: 'RDP cookie',
    port: 3389,
    data: Buffer.concat([
      Buffer.from('030000130ee000000000000100080003000000', 'hex'),
      Buffer.from('Cookie: mstshash=Administr\r\n'),
    ]),
  },
  {
    name: 'telnet login attempt',
    port: 23,
    data: 'root\r\nxc3511\r\nenable\r\nsystem\r\nshell\r\nsh\r\n/bin/busybox ECCHI\r\n',
  },
];

/** A TLS 1.2 ClientHello as scanners send it (binary; ordinary). */
export const TLS_CLIENT_HELLO: Buffer = Buffer.from(
  '16030100a5010000a10303' +
    '5b1f6a3c8e2d4f7091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708' +
    '00002000ffc02cc02bc030c02fc024c023c028c027c00ac009c014c013009d009c' +
    '0100005800000014001200000f7777772e6578616d706c652e636f6d000a0008' +
    '0006001d00170018000b00020100000d00140012040308040401050308050501' +
    '0806060102010017000000230000ff01000100',
  'hex',
);
