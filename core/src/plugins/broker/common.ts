// What the protocol modules of the broker share: the failure they throw (the
// broker adds the plugin and the destination), the size cap on what a peer
// sends, and the one deadline a request has.

/** A connection or protocol failure; the broker turns it into HT_PLUGIN_NETWORK. */
export class NetworkFailure extends Error {
  constructor(reason: string, cause?: unknown) {
    super(reason, cause === undefined ? undefined : { cause });
    this.name = 'NetworkFailure';
  }
}

/** The bounds of one request, after the operator's caps. */
export interface Limits {
  maxBytes: number;
  timeoutMs: number;
  /** Fires at the deadline (connecting, DNS and transfer included). */
  signal: AbortSignal;
}

/** The failure a module throws when the deadline fired. */
export function timedOut(limits: Limits, during: string): NetworkFailure {
  return new NetworkFailure(`timed out after ${limits.timeoutMs} ms (${during})`);
}

/** Collects a peer's bytes up to maxBytes; `add` says false once the cap is reached. */
export class CappedBody {
  private readonly parts: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {}

  get length(): number {
    return this.size;
  }

  /** Keeps what fits; returns false when `chunk` did not fit whole (stop reading). */
  add(chunk: Uint8Array): boolean {
    const room = this.maxBytes - this.size;
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (b.length > room) {
      this.push(b.subarray(0, room));
      this.truncated = true;
      return false;
    }
    this.push(b);
    return true;
  }

  private push(b: Buffer): void {
    if (!b.length) return;
    // Copied: a dgram or socket buffer may be reused by its owner.
    this.parts.push(Buffer.from(b));
    this.size += b.length;
  }

  base64(): string {
    return Buffer.concat(this.parts, this.size).toString('base64');
  }
}

/** The reason text of a Node socket error: its code when it has one. */
export function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (!e.code) return e.message ?? String(err);
  return e.message.includes(e.code) ? e.message : `${e.code}: ${e.message}`;
}
