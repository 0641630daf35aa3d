// One TCP connection: timers, read limit, recording, and exactly one attack
// string when it closes, whatever closed it.
import type { Socket } from 'node:net';
import { newAttackId } from '../attack/id.js';
import { normalizeAddress } from '../attack/address.js';
import { Recorder } from '../attack/recorder.js';
import type { PortSettings } from '../config/ports.js';
import type { EndReason, Session, SessionHost } from './types.js';

export class TcpSession implements Session {
  readonly id: string;
  private readonly recorder: Recorder;
  private reason: EndReason | undefined;
  private error: NodeJS.ErrnoException | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;
  private templateName: string | undefined;
  // Captured at accept: after close, Node no longer reports the addresses.
  private readonly local: { address: string; port: number };
  private readonly remote: { address: string; port: number };

  constructor(
    private readonly socket: Socket,
    readonly settings: PortSettings,
    private readonly host: SessionHost,
  ) {
    this.recorder = new Recorder(settings.readLimit);
    this.id = newAttackId(this.recorder.startedAt);
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
    socket.on('error', (err: NodeJS.ErrnoException) => (this.error ??= err));
    socket.once('close', () => this.closed());
    socket.setTimeout(settings.idleTimeoutMs, () => this.end('idle-timeout'));
    this.sessionTimer = setTimeout(() => this.end('session-timeout'), settings.sessionTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      this.recorder.record('in', chunk);
      if (this.recorder.in.truncated) this.end('read-limit');
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

  end(reason: EndReason): void {
    this.reason ??= reason;
    this.socket.destroy();
  }

  private closed(): void {
    clearTimeout(this.sessionTimer);
    this.host.untrack(this);
    const err = this.error;
    const reason: EndReason =
      this.reason ?? (err ? (err.code === 'ECONNRESET' ? 'reset' : 'error') : 'closed');
    const attack = this.recorder.finish({
      id: this.id,
      sensor: this.host.sensor,
      proto: 'tcp',
      local: this.local,
      remote: this.remote,
      mode: this.settings.mode,
      endReason: reason,
    });
    if (this.templateName !== undefined) attack.template = this.templateName;
    if (err) attack.error = err.code ?? err.message;
    this.host.finished(attack);
  }
}
