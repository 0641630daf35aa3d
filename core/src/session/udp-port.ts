// One UDP port: datagrams from one remote address/port form a session until
// it is idle, too old, or over its read limit. State is bounded per port. In
// mirror and proxy modes a session gets its own socket connected to the peer;
// the peer's datagrams go back to the attacker under the UDP reply limits.
import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { normalizeAddress } from '../attack/address.js';
import type { PortSettings } from '../config/ports.js';
import { SessionBase } from './base.js';
import type { EndReason, Endpoint, Session, SessionHost, SpliceRole } from './types.js';

/** Concurrent UDP sessions per port; the oldest is ended to make room. */
export const MAX_UDP_SESSIONS_PER_PORT = 4096;
/** Datagrams kept for a peer while its socket is being set up. */
const MAX_PENDING = 16;

class UdpSession extends SessionBase implements Session {
  readonly proto = 'udp' as const;
  readonly remote: Endpoint;
  private idleTimer: NodeJS.Timeout;
  private sessionTimer: NodeJS.Timeout;
  private peer: UdpSocket | undefined;
  /** Datagrams not yet forwarded; dropped once the mode needs no peer. */
  private pending: Buffer[] | undefined = [];
  done = false;

  constructor(
    private readonly port: UdpPort,
    readonly key: string,
    private readonly rinfo: RemoteInfo,
    settings: PortSettings,
  ) {
    super(settings);
    this.remote = { address: normalizeAddress(rinfo.address), port: rinfo.port };
    this.idleTimer = setTimeout(() => this.end('idle-timeout'), settings.idleTimeoutMs);
    this.sessionTimer = setTimeout(() => this.end('session-timeout'), settings.sessionTimeoutMs);
  }

  get local(): Endpoint {
    return this.port.localAddress();
  }

  datagram(msg: Buffer): void {
    this.idleTimer.refresh();
    this.recorder.record('in', msg);
    if (this.peer) this.peer.send(msg);
    else if (this.pending && this.pending.length < MAX_PENDING) this.pending.push(msg);
    if (!this.peer && this.recorder.in.truncated) this.end('read-limit');
  }

  /** The mode has run: datagrams only need keeping while a splice connects. */
  settled(): void {
    if (!this.peer && !this.connecting) this.pending = undefined;
  }

  private connecting = false;

  template(): { name: string; data: Buffer } | undefined {
    const t = this.port.host.template(this.settings);
    // Recorded as the session's template only once some of it is really sent.
    this.templateOffered = t;
    return t;
  }

  private templateOffered: { name: string; data: Buffer } | undefined;
  private replyLimited = false;

  send(data: Buffer): void {
    if (this.done) return;
    const { in: received, out: sent } = this.recorder;
    const n = this.port.host.udpReplyAllowance(
      this.rinfo.address,
      received.seen,
      sent.seen,
      data.length,
    );
    if (n < data.length) this.replyLimited = true;
    if (n === 0) return;
    if (data === this.templateOffered?.data) this.templateName = this.templateOffered.name;
    const reply = n < data.length ? data.subarray(0, n) : data;
    this.recorder.record('out', reply);
    this.port.socket.send(reply, this.rinfo.port, this.rinfo.address);
  }

  splice(
    peer: Endpoint,
    role: SpliceRole,
    connectTimeoutMs: number,
    onPeerData?: () => void,
  ): Promise<void> {
    this.connecting = true;
    const sock = createSocket(isIPv6(peer.address) ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => sock.emit('error', new Error('timed out')), connectTimeoutMs);
      const failed = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.connecting = false;
        this.pending = undefined;
        sock.close();
        reject(
          new Error(`${role} to ${peer.address}:${peer.port} failed: ${err.code ?? err.message}`),
        );
      };
      sock.once('error', failed);
      sock.connect(peer.port, peer.address, () => {
        clearTimeout(timer);
        sock.removeListener('error', failed);
        this.connecting = false;
        if (this.done) {
          sock.close();
          return reject(new Error('session ended before the peer socket was ready'));
        }
        this.peer = sock;
        this.peerInfo = { address: normalizeAddress(peer.address), port: peer.port, role };
        // An ICMP unreachable from the peer arrives as an error on the connected socket.
        sock.on(
          'error',
          (err: NodeJS.ErrnoException) => (this.error ??= `peer ${err.code ?? err.message}`),
        );
        if (onPeerData) sock.once('message', onPeerData);
        sock.on('message', (msg: Buffer) => {
          this.idleTimer.refresh();
          this.send(msg);
        });
        for (const msg of this.pending ?? []) sock.send(msg);
        this.pending = undefined;
        resolve();
      });
    });
  }

  end(reason: EndReason): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.sessionTimer);
    this.port.forget(this);
    this.peer?.close();
    const attack = this.finishAttack({
      sensor: this.port.host.sensor,
      proto: 'udp',
      local: this.local,
      remote: this.remote,
      endReason: reason,
    });
    if (this.replyLimited) attack.replyLimited = true;
    this.port.host.finished(attack);
  }
}

export class UdpPort {
  private readonly sessions = new Map<string, UdpSession>();
  private local: Endpoint | undefined;

  constructor(
    readonly socket: UdpSocket,
    readonly settings: PortSettings,
    readonly host: SessionHost,
    private readonly mode: (s: Session) => void,
    private readonly onNewSession: () => void = () => undefined,
  ) {
    socket.on('message', (msg, rinfo) => this.message(msg, rinfo));
    // Read the address now, while the socket is bound: sessions ended at
    // shutdown finish after the capture closed it, when address() throws.
    this.localAddress();
  }

  localAddress(): Endpoint {
    if (!this.local) {
      let a: { address: string; port: number };
      try {
        a = this.socket.address();
      } catch {
        return { address: '', port: this.settings.port }; // not bound (yet or any more)
      }
      this.local = { address: normalizeAddress(a.address), port: a.port };
    }
    return this.local;
  }

  private message(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = this.sessions.get(key);
    if (!s) {
      if (this.sessions.size >= MAX_UDP_SESSIONS_PER_PORT) {
        const oldest = this.sessions.values().next().value;
        oldest?.end('evicted');
      }
      this.onNewSession();
      s = new UdpSession(this, key, rinfo, this.settings);
      this.sessions.set(key, s);
      this.host.track(s);
      s.datagram(msg);
      this.mode(s);
      s.settled();
      return;
    }
    s.datagram(msg);
  }

  forget(s: UdpSession): void {
    this.sessions.delete(s.key);
    this.host.untrack(s);
  }
}
