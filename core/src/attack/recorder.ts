// Records both directions of one session, bounded by the read limit, with the
// time of each chunk so a session can be replayed.
import type { Attack } from '../generated/attack.js';

export type Direction = 'in' | 'out';
/** Chunk timing entries kept per session at most; more sets chunksTruncated. */
export const MAX_CHUNKS = 4096;

class Side {
  readonly parts: Buffer[] = [];
  kept = 0;
  seen = 0;

  constructor(private readonly limit: number) {}

  /** Keeps what fits under the limit; returns how many bytes were kept. */
  push(buf: Buffer): number {
    this.seen += buf.length;
    const room = this.limit - this.kept;
    if (room <= 0) return 0;
    const part = buf.length <= room ? buf : buf.subarray(0, room);
    // Copy: the socket may reuse its buffer, and a slice would pin a large one.
    this.parts.push(Buffer.from(part));
    this.kept += part.length;
    return part.length;
  }

  get truncated(): boolean {
    return this.seen > this.kept;
  }

  get full(): boolean {
    return this.kept >= this.limit;
  }

  payload(): Attack['received'] {
    return {
      length: this.seen,
      data: Buffer.concat(this.parts, this.kept).toString('base64'),
      truncated: this.truncated,
    };
  }
}

export type AttackMeta = Omit<
  Attack,
  | 'schemaVersion'
  | 'startedAt'
  | 'endedAt'
  | 'received'
  | 'sent'
  | 'chunks'
  | 'chunksTruncated'
  | 'plugins'
>;

export class Recorder {
  readonly startedAt = Date.now();
  private readonly startMono = performance.now();
  readonly in: Side;
  readonly out: Side;
  private readonly chunks: Attack['chunks'] = [];
  private chunksTruncated = false;

  constructor(readLimit: number) {
    this.in = new Side(readLimit);
    this.out = new Side(readLimit);
  }

  record(dir: Direction, buf: Buffer): void {
    if (buf.length === 0) return;
    const kept = (dir === 'in' ? this.in : this.out).push(buf);
    if (this.chunks.length < MAX_CHUNKS) {
      this.chunks.push({ dir, atMs: Math.round(performance.now() - this.startMono), length: kept });
    } else {
      this.chunksTruncated = true;
    }
  }

  finish(meta: AttackMeta): Attack {
    const attack: Attack = {
      schemaVersion: 1,
      ...meta,
      startedAt: new Date(this.startedAt).toISOString(),
      endedAt: new Date().toISOString(),
      received: this.in.payload(),
      sent: this.out.payload(),
      chunks: this.chunks,
      plugins: {},
    };
    if (this.chunksTruncated) attack.chunksTruncated = true;
    return attack;
  }
}
