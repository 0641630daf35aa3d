// Real peer servers for mirror, proxy and the plugins' network broker, each
// started inside a namespace with its own temp folder: nginx, redis-server,
// socat, vsftpd, in.tftpd (tftpd-hpa) and small Node servers (UDP echo, a sink
// that answers with the byte count and SHA-256 of what it read, a server that
// resets the connection). Plus curl's --trace parser and a bulk client that
// sends a deterministic stream.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeTempDir } from './daemon.js';
import type { Background, Netns } from './netns.js';

export interface NginxExtras {
  /** More files to serve, by path under the web root ("a/b.bin"). */
  files?: Record<string, string | Uint8Array>;
  /** More directives for the server block, e.g. `location = /old { return 302 /new; }`. */
  server?: string[];
}

/** nginx on `address:port` serving `page` as /index.html (and `extras`). */
export async function startNginx(
  net: Netns,
  node: string,
  address: string,
  page: string,
  port = 80,
  extras: NginxExtras = {},
): Promise<Background> {
  const dir = await makeTempDir('hts-nginx-');
  await mkdir(join(dir, 'www'));
  await writeFile(join(dir, 'www', 'index.html'), page);
  for (const [name, data] of Object.entries(extras.files ?? {})) {
    await mkdir(dirname(join(dir, 'www', name)), { recursive: true });
    await writeFile(join(dir, 'www', name), data);
  }
  const conf = [
    'worker_processes 1;',
    // Workers as root: the temp folder is private to root.
    'user root;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log;`,
    'events { worker_connections 128; }',
    'http {',
    `  access_log ${dir}/access.log;`,
    `  client_body_temp_path ${dir}/body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    `  server { listen ${address}:${port}; root ${dir}/www; index index.html;`,
    ...(extras.server ?? []).map((d) => `    ${d}`),
    '  }',
    '}',
    '',
  ].join('\n');
  await writeFile(join(dir, 'nginx.conf'), conf);
  const bg = net.spawn(node, 'nginx', [
    'nginx',
    '-p',
    dir,
    '-e',
    `${dir}/error.log`,
    '-c',
    join(dir, 'nginx.conf'),
    '-g',
    'daemon off;',
  ]);
  await waitUp(net, node, bg, 'tcp', port);
  return bg;
}

/** redis-server on `address:port`, nothing saved. */
export async function startRedis(
  net: Netns,
  node: string,
  address: string,
  port = 6379,
): Promise<Background> {
  const dir = await makeTempDir('hts-redis-');
  const bg = net.spawn(node, 'redis-server', [
    'redis-server',
    '--port',
    String(port),
    '--bind',
    address,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
    '--daemonize',
    'no',
    '--dir',
    dir,
  ]);
  await waitUp(net, node, bg, 'tcp', port);
  return bg;
}

/**
 * Makes `dir` and everything under it readable by anyone: vsftpd and in.tftpd
 * drop to an unprivileged user (ftp, nobody) before they read the files.
 */
async function makeWorldReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name);
    await chmod(path, e.isDirectory() ? 0o755 : 0o644);
  }
}

export interface VsftpdOptions {
  address: string;
  /** Control port (default 21). */
  port?: number;
  /** The folder served (anonymous and the user see the same files); made world-readable. */
  root: string;
  /** A user login besides anonymous (checked by a PAM file of this server alone). */
  user?: { name: string; password: string };
  /** Passive data ports, inclusive (default 40000-40009). */
  pasvPorts?: [number, number];
  /** The address vsftpd writes in its PASV replies (default: the control address). */
  pasvAddress?: string;
}

/**
 * vsftpd in the foreground on `address:port` with its own config file:
 * anonymous login (any password) and, when given, one user, both mapped to the
 * `ftp` account and served `root` read-only, passive mode only. The user's
 * password is checked through a PAM file, passwd and shadow bind-mounted over
 * the host's in a private mount namespace: nothing on the host changes.
 */
export async function startVsftpd(net: Netns, node: string, o: VsftpdOptions): Promise<Background> {
  const dir = await makeTempDir('hts-vsftpd-');
  await makeWorldReadable(o.root);
  const port = o.port ?? 21;
  const [pasvMin, pasvMax] = o.pasvPorts ?? [40000, 40009];
  const conf = [
    'listen=YES',
    'listen_ipv6=NO',
    `listen_address=${o.address}`,
    `listen_port=${port}`,
    'background=NO',
    'anonymous_enable=YES',
    'no_anon_password=YES',
    `anon_root=${o.root}`,
    `local_enable=${o.user ? 'YES' : 'NO'}`,
    // Every non-anonymous login is the ftp account, rooted at the same folder.
    'guest_enable=YES',
    'guest_username=ftp',
    `local_root=${o.root}`,
    'chroot_local_user=YES',
    'allow_writeable_chroot=YES',
    'write_enable=NO',
    'pasv_enable=YES',
    'port_enable=NO',
    `pasv_min_port=${pasvMin}`,
    `pasv_max_port=${pasvMax}`,
    ...(o.pasvAddress ? [`pasv_address=${o.pasvAddress}`] : []),
    'connect_from_port_20=NO',
    'pam_service_name=vsftpd',
    'secure_chroot_dir=/var/run/vsftpd/empty',
    // Containers refuse vsftpd's own sandboxing (seccomp, clone into new namespaces).
    'seccomp_sandbox=NO',
    'isolate_network=NO',
    'isolate=NO',
    'xferlog_enable=YES',
    'log_ftp_protocol=YES',
    `vsftpd_log_file=${dir}/vsftpd.log`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'vsftpd.conf'), conf);
  // The user's login, checked by pam_unix against passwd and shadow files of
  // this server alone (bind-mounted below): a user added to the host would
  // outlive a killed test, and pam_exec hangs under vsftpd.
  const passwd = (await readFile('/etc/passwd', 'utf8')).trimEnd().split('\n');
  const ftp = passwd.find((l) => l.startsWith('ftp:'))?.split(':');
  if (!ftp) throw new Error('vsftpd needs the ftp account (the vsftpd package creates it)');
  const shadow: string[] = [];
  if (o.user) {
    const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], {
      input: o.user.password,
      encoding: 'utf8',
    }).trim();
    passwd.push(`${o.user.name}:x:${ftp[2]}:${ftp[3]}::/nonexistent:/usr/sbin/nologin`);
    shadow.push(`${o.user.name}:${hash}:19000:0:99999:7:::`);
  }
  await writeFile(join(dir, 'passwd'), passwd.join('\n') + '\n');
  await writeFile(join(dir, 'shadow'), shadow.join('\n') + '\n', { mode: 0o600 });
  await writeFile(
    join(dir, 'pam'),
    'auth required pam_unix.so\naccount required pam_permit.so\nsession required pam_permit.so\n',
  );
  const bg = net.spawn(node, 'vsftpd', [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mount --bind "$1/pam" /etc/pam.d/vsftpd && mount --bind "$1/passwd" /etc/passwd && ' +
      'mount --bind "$1/shadow" /etc/shadow && exec vsftpd "$1/vsftpd.conf"',
    'sh',
    dir,
  ]);
  await waitUp(net, node, bg, 'tcp', port);
  return bg;
}

/**
 * in.tftpd (tftpd-hpa) in the foreground on `address:port` (UDP), serving
 * `root` read-only (--secure: paths are relative to it); made world-readable
 * because the server reads files as nobody.
 */
export async function startTftpd(
  net: Netns,
  node: string,
  address: string,
  root: string,
  port = 69,
): Promise<Background> {
  await makeWorldReadable(root);
  const bg = net.spawn(node, 'in.tftpd', [
    'in.tftpd',
    '--foreground',
    '--listen',
    '--address',
    `${address}:${port}`,
    '--secure',
    root,
  ]);
  await waitUp(net, node, bg, 'udp', port);
  return bg;
}

/** `socat ARGS`, ready once `proto`/`port` listens in the namespace. */
export async function startSocat(
  net: Netns,
  node: string,
  args: string[],
  proto: 'tcp' | 'udp',
  port: number,
): Promise<Background> {
  const bg = net.spawn(node, 'socat', ['socat', ...args]);
  await waitUp(net, node, bg, proto, port);
  return bg;
}

async function waitUp(
  net: Netns,
  node: string,
  bg: Background,
  proto: 'tcp' | 'udp',
  port: number,
): Promise<void> {
  try {
    await Promise.race([
      net.waitListening(node, proto, port),
      bg.exited.then((e) => {
        throw new Error(`exited ${JSON.stringify(e)}`);
      }),
    ]);
  } catch (err) {
    throw new Error(
      `${bg.name} is not up on ${proto}/${port}: ${(err as Error).message}\n${bg.output}`,
    );
  }
}

// Plain JavaScript servers: each runs with `node -e SCRIPT '{"address":..,"port":..}'`
// inside a namespace and prints "ready" once it listens.
const NODE_SERVERS = {
  /** Sends every datagram back to where it came from. */
  udpEcho: `
const s = require('node:dgram').createSocket('udp4');
const o = JSON.parse(process.argv[1]);
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(o.port, o.address, () => console.log('ready'));`,
  /** Reads until EOF, then answers "<bytes> <sha256 hex>\\n" and closes. */
  sinkHash: `
const net = require('node:net');
const crypto = require('node:crypto');
const o = JSON.parse(process.argv[1]);
net.createServer({ allowHalfOpen: true }, (c) => {
  const h = crypto.createHash('sha256');
  let n = 0;
  c.on('data', (d) => { n += d.length; h.update(d); });
  c.on('end', () => c.end(n + ' ' + h.digest('hex') + '\\n'));
  c.on('error', () => {});
}).listen(o.port, o.address, () => console.log('ready'));`,
  /** Says "decoy" to whoever connects and prints "conn <address>": shows a client went where it should not. */
  decoy: `
const net = require('node:net');
const o = JSON.parse(process.argv[1]);
net.createServer((c) => {
  console.log('conn ' + c.remoteAddress);
  c.on('error', () => {});
  c.end('decoy\\n');
}).listen(o.port, o.address, () => console.log('ready'));`,
  /** Resets the connection as soon as it read something. */
  resetAfterRead: `
const net = require('node:net');
const o = JSON.parse(process.argv[1]);
net.createServer((c) => {
  c.on('error', () => {});
  c.once('data', () => c.resetAndDestroy());
}).listen(o.port, o.address, () => console.log('ready'));`,
} as const;

export type NodeServer = keyof typeof NODE_SERVERS;

/** One of the Node servers above on `address:port` inside `node`. */
export async function startNodeServer(
  net: Netns,
  node: string,
  kind: NodeServer,
  address: string,
  port: number,
): Promise<Background> {
  const bg = net.spawn(node, kind, [
    process.execPath,
    '-e',
    NODE_SERVERS[kind],
    JSON.stringify({ address, port }),
  ]);
  await bg.waitForOutput(/ready/);
  return bg;
}

/** What `curl --trace FILE` says was sent and received on the wire. */
export function parseCurlTrace(trace: string): { sent: Buffer; received: Buffer } {
  const sent: number[] = [];
  const received: number[] = [];
  let into: number[] | undefined;
  for (const line of trace.split('\n')) {
    if (/^=> Send (header|data)/.test(line)) into = sent;
    else if (/^<= Recv (header|data)/.test(line)) into = received;
    else if (/^(=>|<=|==) /.test(line)) into = undefined;
    else if (into && /^[0-9a-f]{4}: /.test(line))
      for (const h of line.slice(6, 6 + 48).match(/[0-9a-f]{2}/g) ?? []) into.push(parseInt(h, 16));
  }
  return { sent: Buffer.from(sent), received: Buffer.from(received) };
}

/** Block size of the bulk stream. */
export const BULK_BLOCK = 65536;

/** Block `k` of the bulk stream: SHA-256("block-k") repeated. */
export function bulkBlock(k: number): Buffer {
  const d = createHash('sha256').update(`block-${k}`).digest();
  return Buffer.concat(Array.from({ length: BULK_BLOCK / d.length }, () => d));
}

/** The first `n` bytes of the bulk stream. */
export function bulkPrefix(n: number): Buffer {
  const blocks = Array.from({ length: Math.ceil(n / BULK_BLOCK) }, (_, k) => bulkBlock(k));
  return Buffer.concat(blocks).subarray(0, n);
}

/**
 * Plain JavaScript client (run with `node -e`): connects to host:port, sends
 * `blocks` blocks of the bulk stream with backpressure, half-closes, reads the
 * answer until close and prints {sent, sha256, reply, ms, error} as JSON.
 */
export const BULK_CLIENT = `
const net = require('node:net');
const crypto = require('node:crypto');
const o = JSON.parse(process.argv[1]);
const t0 = performance.now();
const block = (k) => {
  const d = crypto.createHash('sha256').update('block-' + k).digest();
  return Buffer.concat(Array.from({ length: ${BULK_BLOCK} / d.length }, () => d));
};
const h = crypto.createHash('sha256');
let sent = 0;
let error = null;
const reply = [];
const s = net.connect({ host: o.host, port: o.port, allowHalfOpen: true });
s.on('error', (e) => { error = error || e.code || e.message; });
s.on('data', (d) => reply.push(d));
s.on('end', () => s.end());
s.on('close', () => {
  process.stdout.write(JSON.stringify({ sent, sha256: h.digest('hex'),
    reply: Buffer.concat(reply).toString('utf8'), ms: performance.now() - t0, error }));
});
s.on('connect', () => {
  let k = 0;
  const pump = () => {
    while (k < o.blocks) {
      const b = block(k++);
      h.update(b);
      sent += b.length;
      if (!s.write(b)) return s.once('drain', pump);
    }
    s.end();
  };
  pump();
});`;

/** A command as redis-cli sends it (RESP array of bulk strings). */
export function resp(args: string[]): Buffer {
  return Buffer.from(
    `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''),
  );
}
