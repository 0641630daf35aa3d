// What TCP and UDP sessions share: the id, the recorder, and everything that
// goes into the attack string besides the bytes (template, peer, fallback,
// error), written once when the session ends.
import { newAttackId } from '../attack/id.js';
import { Recorder } from '../attack/recorder.js';
import type { Attack } from '../generated/attack.js';
import type { PortSettings } from '../config/ports.js';
import type { EndReason, Endpoint, SpliceRole } from './types.js';

export abstract class SessionBase {
  readonly id: string;
  readonly recorder: Recorder;
  protected templateName: string | undefined;
  protected peerInfo: Attack['peer'];
  protected error: string | undefined;
  private fallbackInfo: Attack['fallback'];
  private readonly endHooks: (() => void)[] = [];

  constructor(readonly settings: PortSettings) {
    this.recorder = new Recorder(settings.readLimit);
    this.id = newAttackId(this.recorder.startedAt);
  }

  fallback(from: SpliceRole, reason: string): void {
    this.fallbackInfo = { from, reason };
  }

  onEnd(fn: () => void): void {
    this.endHooks.push(fn);
  }

  /** Runs the end hooks once and builds the session's attack string. */
  protected finishAttack(meta: {
    sensor: string;
    proto: 'tcp' | 'udp';
    local: Endpoint;
    remote: Endpoint;
    endReason: EndReason;
  }): Attack {
    for (const fn of this.endHooks.splice(0)) fn();
    const attack = this.recorder.finish({ id: this.id, mode: this.settings.mode, ...meta });
    if (this.templateName !== undefined) attack.template = this.templateName;
    if (this.peerInfo) attack.peer = this.peerInfo;
    if (this.fallbackInfo) attack.fallback = this.fallbackInfo;
    if (this.error) attack.error = this.error;
    return attack;
  }
}
