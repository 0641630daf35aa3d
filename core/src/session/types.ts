// What every session (TCP connection or UDP peer) offers the connection modes.
import type { Attack } from '../generated/attack.js';
import type { PortSettings } from '../config/ports.js';

export type EndReason = Attack['endReason'];

export interface Session {
  readonly id: string;
  readonly settings: PortSettings;
  /** Sends bytes to the attacker and records them. */
  send(data: Buffer): void;
  /** Ends the session now; the first reason given wins. */
  end(reason: EndReason): void;
  /** The response template for this port, if one exists. */
  template(): { name: string; data: Buffer } | undefined;
}

export interface SessionHost {
  sensor: string;
  template(settings: PortSettings): { name: string; data: Buffer } | undefined;
  /** Called once per session with its finished attack string. */
  finished(attack: Attack): void;
  /** Bytes of a UDP reply that may be sent (reflection limits). */
  udpReplyAllowance(source: string, received: number, sentSoFar: number, wanted: number): number;
  /** Sessions register so shutdown can end them. */
  track(session: Session): void;
  untrack(session: Session): void;
}
