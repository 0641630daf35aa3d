// One TCP connection: timers, read limit, recording, and exactly one attack
// string when it closes, whatever closed it. In mirror and proxy modes it is
// spliced to a peer socket; both directions are recorded under the read
// limit and the transfer goes on past it (pipe() applies backpressure, so a
// slow side never makes us buffer without bound).
import { connect, type Socket } from 'node:net';
import { normalizeAddress } from '../attack/address.js';
import type { PortSettings } from '../config/ports.js';
import { SessionBase } from './base.js';
import type { EndReason, Endpoint, Session, SessionHost, SpliceRole } from './types.js';

export class TcpSession extends SessionBase implements Session {
  readonly proto = 'tcp' as const;
  private reason: EndReason | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;
  private peer: Socket | undefined;
  // Captured at accept: after close, Node no longer reports the addresses.
  readonly local: Endpoint;
  readonly remote: Endpoint;

  constructor(
    private readonly socket: Socket,
    settings: PortSettings,
    private readonly host: SessionHost,
  ) {
    super(settings);
    this.local = {
      address: normalizeAddress(socket.localAddress),
      port: socket.localPort ?? settings.port,
    };
    this.remote = { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
  }

  /** Starts reading; the mode decides what is sent. */
  start(mode: (s: Session) => void): void {
    const { socket, settings } = this;
    this.host.track(this);
    socket.on('error', (err: NodeJS.ErrnoException) => (this.error ??= err.code ?? err.message));
    socket.once('close', () => this.closed());
    socket.setTimeout(settings.idleTimeoutMs, () => this.end('idle-timeout'));
    this.sessionTimer = setTimeout(() => this.end('session-timeout'), settings.sessionTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      this.recorder.record('in', chunk);
      // A splice forwards past the limit (recording stops); other modes stop reading.
      if (!this.peer && this.recorder.in.truncated) this.end('read-limit');
    });
    // The server allows half-open sockets so a splice can forward a half-close;
    // without a peer, the attacker's FIN ends the session.
    socket.on('end', () => {
      if (!this.peer) socket.end();
    });
    mode(this);
  }

  template(): { name: string; data: Buffer } | undefined {
    const t = this.host.template(this.settings);
    if (t) this.templateName = t.name;
    return t;
  }

  send(data: Buffer): void {
    if (this.socket.destroyed) return;
    this.recorder.record('out', data);
    this.socket.write(data);
  }

  splice(
    peer: Endpoint,
    role: SpliceRole,
    connectTimeoutMs: number,
    onPeerData?: () => void,
  ): Promise<void> {
    const attacker = this.socket;
    attacker.pause();
    return new Promise((resolve, reject) => {
      const out = connect({
        host: peer.address,
        port: peer.port,
        allowHalfOpen: true,
        noDelay: true,
      });
      const timer = setTimeout(
        () => out.destroy(new Error(`${role} connect to ${fmt(peer)} timed out`)),
        connectTimeoutMs,
      );
      const failed = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        attacker.resume();
        reject(new Error(`${role} connect to ${fmt(peer)} failed: ${err.code ?? err.message}`));
      };
      out.once('error', failed);
      out.once('connect', () => {
        clearTimeout(timer);
        out.removeListener('error', failed);
        if (attacker.destroyed) {
          out.destroy();
          return reject(new Error('attacker left before the peer answered'));
        }
        this.peer = out;
        this.peerInfo = { address: normalizeAddress(peer.address), port: peer.port, role };
        out.on('data', (chunk: Buffer) => this.recorder.record('out', chunk));
        if (onPeerData) out.once('data', onPeerData);
        out.on(
          'error',
          (err: NodeJS.ErrnoException) => (this.error ??= `peer ${err.code ?? err.message}`),
        );
        // Peer gone for good (closed or reset): end the attacker side too.
        out.once('close', () => {
          if (!attacker.destroyed) attacker.end();
          setTimeout(() => attacker.destroy(), 2000).unref();
        });
        attacker.pipe(out);
        out.pipe(attacker);
        attacker.resume();
        resolve();
      });
    });
  }

  end(reason: EndReason): void {
    this.reason ??= reason;
    this.socket.destroy();
  }

  private closed(): void {
    clearTimeout(this.sessionTimer);
    this.host.untrack(this);
    // We close first: reset the peer so its 4-tuple leaves no TIME_WAIT here
    // (mirror reuses the same destination for every session).
    if (this.peer && !this.peer.destroyed) this.peer.resetAndDestroy();
    const err = this.error;
    const reason: EndReason =
      this.reason ??
      (err ? (err === 'ECONNRESET' || err.endsWith(' ECONNRESET') ? 'reset' : 'error') : 'closed');
    const attack = this.finishAttack({
      sensor: this.host.sensor,
      proto: 'tcp',
      local: this.local,
      remote: this.remote,
      endReason: reason,
    });
    this.host.finished(attack);
  }
}

function fmt(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
