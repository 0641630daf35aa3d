// Types of clamd.mjs, for the repository's TypeScript host tests (host-tests/lib/clamd.ts).
import type { ChildProcess } from 'node:child_process';
import type { NetConnectOpts } from 'node:net';

export declare const reported: (name: string) => string;
export declare function hdbLine(name: string, data: Uint8Array | string): string;
export declare function ndbLine(name: string, bytes: Uint8Array | string): string;
export declare function clamdRequest(
  target: NetConnectOpts,
  request: Uint8Array | string,
  timeoutMs?: number,
): Promise<Buffer>;

export declare class Clamd {
  child: ChildProcess | undefined;
  output: string;
  readonly dir: string;
  readonly port: number;
  constructor(dir: string, port: number);
  get socketPath(): string;
  get unixUrl(): string;
  get tcpUrl(): string;
  get running(): boolean;
  start(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export interface ClamdOptions {
  hashSignatures?: { name: string; data: Uint8Array | string }[];
  hexSignatures?: { name: string; bytes: Uint8Array | string }[];
  streamMaxLength?: number;
}

export declare function startClamd(opts?: ClamdOptions): Promise<Clamd>;
