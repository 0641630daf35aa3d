// One UDP port: datagrams from one remote address/port form a session until
// it is idle, too old, or over its read limit. State is bounded per port.
import type { Socket as UdpSocket, RemoteInfo } from 'node:dgram';
import { newAttackId } from '../attack/id.js';
import { normalizeAddress } from '../attack/address.js';
import { Recorder } from '../attack/recorder.js';
import type { PortSettings } from '../config/ports.js';
import type { EndReason, Session, SessionHost } from './types.js';

/** Concurrent UDP sessions per port; the oldest is ended to make room. */
export const MAX_UDP_SESSIONS_PER_PORT = 4096;

class UdpSession implements Session {
  readonly id: string;
  readonly recorder: Recorder;
  private reason: EndReason | undefined;
  private templateName: string | undefined;
  private idleTimer: NodeJS.Timeout;
  private sessionTimer: NodeJS.Timeout;
  done = false;

  constructor(
    private readonly port: UdpPort,
    readonly key: string,
    private readonly rinfo: RemoteInfo,
    readonly settings: PortSettings,
  ) {
    this.recorder = new Recorder(settings.readLimit);
    this.id = newAttackId(this.recorder.startedAt);
    this.idleTimer = setTimeout(() => this.end('idle-timeout'), settings.idleTimeoutMs);
    this.sessionTimer = setTimeout(() => this.end('session-timeout'), settings.sessionTimeoutMs);
  }

  datagram(msg: Buffer): void {
    this.idleTimer.refresh();
    this.recorder.record('in', msg);
    if (this.recorder.in.truncated) this.end('read-limit');
  }

  template(): { name: string; data: Buffer } | undefined {
    const t = this.port.host.template(this.settings);
    if (t) this.templateName = t.name;
    return t;
  }

  send(data: Buffer): void {
    if (this.done) return;
    const { in: received, out: sent } = this.recorder;
    const n = this.port.host.udpReplyAllowance(
      this.rinfo.address,
      received.seen,
      sent.seen,
      data.length,
    );
    if (n === 0) return;
    const reply = n < data.length ? data.subarray(0, n) : data;
    this.recorder.record('out', reply);
    this.port.socket.send(reply, this.rinfo.port, this.rinfo.address);
  }

  end(reason: EndReason): void {
    if (this.done) return;
    this.done = true;
    this.reason = reason;
    clearTimeout(this.idleTimer);
    clearTimeout(this.sessionTimer);
    this.port.forget(this);
    const local = this.port.localAddress();
    const attack = this.recorder.finish({
      id: this.id,
      sensor: this.port.host.sensor,
      proto: 'udp',
      local,
      remote: { address: normalizeAddress(this.rinfo.address), port: this.rinfo.port },
      mode: this.settings.mode,
      endReason: this.reason,
    });
    if (this.templateName !== undefined) attack.template = this.templateName;
    this.port.host.finished(attack);
  }
}

export class UdpPort {
  private readonly sessions = new Map<string, UdpSession>();
  private local: { address: string; port: number } | undefined;

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

  localAddress(): { address: string; port: number } {
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
      return;
    }
    s.datagram(msg);
  }

  forget(s: UdpSession): void {
    this.sessions.delete(s.key);
    this.host.untrack(s);
  }
}
