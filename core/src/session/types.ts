// What every session (TCP connection or UDP peer) offers the connection modes.
import type { Attack } from '../generated/attack.js';
import type { PortSettings } from '../config/ports.js';
import type { SpliceGuard } from './splice-guard.js';

export type EndReason = Attack['endReason'];
export interface Endpoint {
  address: string;
  port: number;
}
export type SpliceRole = 'mirror' | 'proxy';

export interface Session {
  readonly id: string;
  readonly proto: 'tcp' | 'udp';
  readonly settings: PortSettings;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** Sends bytes to the attacker and records them. */
  send(data: Buffer): void;
  /** Ends the session now; the first reason given wins. */
  end(reason: EndReason): void;
  /** The response template for this port, if one exists. */
  template(): { name: string; data: Buffer } | undefined;
  /**
   * Connects to `peer` and forwards both ways, recording both directions.
   * Resolves once connected; rejects with the reason when it cannot connect
   * (the session is then still open for a fallback mode). `onPeerData` runs
   * when the first byte (or datagram) from the peer arrives.
   */
  splice(
    peer: Endpoint,
    role: SpliceRole,
    connectTimeoutMs: number,
    onPeerData?: () => void,
  ): Promise<void>;
  /** Runs `fn` once when the session has ended. */
  onEnd(fn: () => void): void;
  /** Records that the session runs in normal mode because `from` failed. */
  fallback(from: SpliceRole, reason: string): void;
}

export interface SessionHost {
  sensor: string;
  template(settings: PortSettings): { name: string; data: Buffer } | undefined;
  /** Called once per session with its finished attack string. */
  finished(attack: Attack): void;
  /** Bytes of a UDP reply that may be sent (reflection limits). */
  udpReplyAllowance(source: string, received: number, sentSoFar: number, wanted: number): number;
  /** Limits and loop protection for mirror and proxy. */
  readonly splices: SpliceGuard;
  /** Sessions register so shutdown can end them. */
  track(session: Session): void;
  untrack(session: Session): void;
}
