// A real clamd (Debian's clamav-daemon) for tests: started in the foreground
// with its own config in a temp folder, a unix socket there and a TCP socket
// on a free loopback port, and a signature database that holds only the
// test's own signatures, so no freshclam download is needed.
//
//   const clamd = await startClamd({ hashSignatures: [{ name: 'Test.Sig', data: bytes }] });
//   clamd.unixUrl  // unix:/tmp/clamd-XXXX/clamd.sock
//   clamd.tcpUrl   // tcp://127.0.0.1:PORT
//   await clamd.stop(); await clamd.start(); await clamd.remove();
//
// clamd reports a signature from a database it does not know as official with
// ".UNOFFICIAL" after its name (Test.Sig -> Test.Sig.UNOFFICIAL).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The name clamd reports for a signature of the test's database. */
export const reported = (name) => `${name}.UNOFFICIAL`;

/** A .hdb line: the file whose MD5 and size these are is detected as `name`. */
export function hdbLine(name, data) {
  const bytes = Buffer.from(data);
  return `${createHash('md5').update(bytes).digest('hex')}:${bytes.length}:${name}`;
}

/** A .ndb line: `bytes` anywhere in any file is detected as `name`. */
export function ndbLine(name, bytes) {
  return `${name}:0:*:${Buffer.from(bytes).toString('hex')}`;
}

/** A free TCP port on 127.0.0.1 (the kernel picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** One request to clamd, the reply read until clamd closes the connection. */
export function clamdRequest(target, request, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const socket = connect(target);
    const parts = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply in ${timeoutMs} ms`)));
    socket.once('connect', () => socket.end(request));
    socket.on('data', (d) => parts.push(d));
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(parts)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Clamd {
  /** @type {import('node:child_process').ChildProcess | undefined} */
  child;
  output = '';

  constructor(dir, port) {
    this.dir = dir;
    this.port = port;
  }

  get socketPath() {
    return join(this.dir, 'clamd.sock');
  }

  get unixUrl() {
    return `unix:${this.socketPath}`;
  }

  get tcpUrl() {
    return `tcp://127.0.0.1:${this.port}`;
  }

  get running() {
    return this.child !== undefined;
  }

  /** Starts clamd and waits until it answers PING on both sockets. */
  async start(timeoutMs = 30_000) {
    if (this.child) return;
    const child = spawn('clamd', ['--config-file', join(this.dir, 'clamd.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.exited = exited;
    child.stdout.setEncoding('utf8').on('data', (s) => (this.output += s));
    child.stderr.setEncoding('utf8').on('data', (s) => (this.output += s));
    child.once('error', (err) => (this.output += `\nspawn failed: ${err.message}`));
    const end = Date.now() + timeoutMs;
    let gone = false;
    void exited.then(() => (gone = true));
    for (;;) {
      const pongs = await Promise.all(
        [{ path: this.socketPath }, { host: '127.0.0.1', port: this.port }].map((t) =>
          clamdRequest(t, 'zPING\0', 1000).then(
            (r) => r.toString('latin1') === 'PONG\0',
            () => false,
          ),
        ),
      );
      if (pongs.every(Boolean)) return;
      if (gone || Date.now() > end) {
        await this.stop();
        throw new Error(
          `clamd did not come up (${gone ? 'it exited' : `no PONG in ${timeoutMs} ms`}):\n${this.output.slice(-3000)}`,
        );
      }
      await sleep(50);
    }
  }

  /** Stops clamd (SIGTERM) and waits for it to exit. */
  async stop() {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** Stops clamd and deletes its folder. */
  async remove() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Writes the config and the database and starts clamd.
 * @param {{
 *   hashSignatures?: { name: string, data: Uint8Array | string }[],
 *   hexSignatures?: { name: string, bytes: Uint8Array | string }[],
 *   streamMaxLength?: number,
 * }} opts
 * @returns {Promise<Clamd>}
 */
export async function startClamd(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'clamd-'));
  const db = join(dir, 'db');
  const hdb = (opts.hashSignatures ?? []).map((s) => hdbLine(s.name, s.data));
  const ndb = (opts.hexSignatures ?? []).map((s) => ndbLine(s.name, s.bytes));
  if (hdb.length + ndb.length === 0) throw new Error('startClamd needs at least one signature');
  const clamd = new Clamd(dir, await freePort());
  try {
    mkdirSync(db);
    if (hdb.length) writeFileSync(join(db, 'test.hdb'), `${hdb.join('\n')}\n`);
    if (ndb.length) writeFileSync(join(db, 'test.ndb'), `${ndb.join('\n')}\n`);
    writeFileSync(
      join(dir, 'clamd.conf'),
      [
        'Foreground yes',
        `LocalSocket ${clamd.socketPath}`,
        'TCPAddr 127.0.0.1',
        `TCPSocket ${clamd.port}`,
        `DatabaseDirectory ${db}`,
        `StreamMaxLength ${opts.streamMaxLength ?? 25 * 1024 * 1024}`,
        `PidFile ${join(dir, 'clamd.pid')}`,
        // no User line: clamd keeps the tests' user (root), who owns the temp folder
        'LogTime yes',
        'SelfCheck 0',
        '',
      ].join('\n'),
    );
    await clamd.start();
    return clamd;
  } catch (err) {
    await clamd.remove();
    throw err;
  }
}
