// The listen capture: plain TCP servers and UDP sockets on the configured
// ports (no root needed). A port that cannot be bound is reported by name and
// the others still run.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createServer, type Server } from 'node:net';
import { HoneytrapError } from '../errors.js';
import type { PortSettings } from '../config/ports.js';
import { portKey } from '../config/ports.js';
import { modeHandler } from '../modes/index.js';
import { TcpSession } from '../session/tcp-session.js';
import type { SessionHost } from '../session/types.js';
import { UdpPort } from '../session/udp-port.js';
import type { BindResult, Capture, PortPlan } from './types.js';

/** Binds in parallel, this many at a time, so large ranges start quickly. */
const BIND_CONCURRENCY = 256;

export class ListenCapture implements Capture {
  readonly name = 'listen';
  private readonly servers: Server[] = [];
  private readonly udpSockets: UdpSocket[] = [];

  constructor(
    private readonly plan: PortPlan,
    private readonly addresses: string[],
    private readonly host: SessionHost,
  ) {}

  async start(): Promise<BindResult[]> {
    const jobs: (() => Promise<BindResult>)[] = [];
    for (const settings of this.plan.values())
      for (const address of this.addresses)
        jobs.push(() =>
          settings.proto === 'tcp'
            ? this.bindTcp(settings, address)
            : this.bindUdp(settings, address),
        );
    const results: BindResult[] = [];
    for (let i = 0; i < jobs.length; i += BIND_CONCURRENCY)
      results.push(...(await Promise.all(jobs.slice(i, i + BIND_CONCURRENCY).map((j) => j()))));
    return results;
  }

  private bindTcp(settings: PortSettings, address: string): Promise<BindResult> {
    const key = portKey(settings.port, 'tcp');
    const mode = modeHandler(settings.mode, 'tcp');
    const server = createServer({ noDelay: true }, (socket) =>
      new TcpSession(socket, settings, this.host).start(mode),
    );
    return new Promise((resolve) => {
      server.once('error', (err) => resolve({ key, address, error: bindError(key, address, err) }));
      server.listen({ host: address, port: settings.port, ipv6Only: false, backlog: 1024 }, () => {
        server.removeAllListeners('error');
        // A listener error after start (EMFILE on accept) must not crash the daemon.
        server.on('error', () => undefined);
        this.servers.push(server);
        resolve({ key, address });
      });
    });
  }

  private bindUdp(settings: PortSettings, address: string): Promise<BindResult> {
    const key = portKey(settings.port, 'udp');
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', ipv6Only: false });
    return new Promise((resolve) => {
      socket.once('error', (err) => {
        socket.close();
        resolve({ key, address, error: bindError(key, address, err) });
      });
      socket.bind({ address, port: settings.port, exclusive: true }, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        new UdpPort(socket, settings, this.host, modeHandler(settings.mode, 'udp'));
        this.udpSockets.push(socket);
        resolve({ key, address });
      });
    });
  }

  async stop(): Promise<void> {
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const s of this.udpSockets) s.close();
    this.servers.length = 0;
    this.udpSockets.length = 0;
    // server.close() waits for open connections; the daemon ends those itself.
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 50))]);
  }
}

function bindError(key: string, address: string, err: NodeJS.ErrnoException): HoneytrapError {
  const why: Record<string, string> = {
    EADDRINUSE: 'address already in use',
    EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
    EADDRNOTAVAIL: 'address not available on this host',
  };
  const reason = why[err.code ?? ''] ?? err.message;
  return new HoneytrapError(
    'HT_PORT_BIND',
    `port ${key} on ${address}: ${reason}${err.code ? ` (${err.code})` : ''}`,
    { port: key, cause: err },
  );
}
