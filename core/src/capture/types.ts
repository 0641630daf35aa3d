// A capture only answers "a connection attempt to port P/proto arrived" and
// hands the socket over. Each capture is one module behind this interface.
import type { PortSettings } from '../config/ports.js';
import type { HoneytrapError } from '../errors.js';

export interface BindResult {
  /** "2323/tcp" */
  key: string;
  address: string;
  error?: HoneytrapError;
}

export interface Capture {
  readonly name: string;
  /** Opens what it needs; one result per port and address, failures included. */
  start(): Promise<BindResult[]>;
  /** Stops catching new attempts (sessions in progress are the daemon's). */
  stop(): Promise<void>;
}

export type PortPlan = Map<string, PortSettings>;
