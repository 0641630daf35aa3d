// Real clients for the tests: node TCP sockets kept open or run to completion.
import { connect, type Socket } from 'node:net';
import { LOOPBACK } from './ports.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true; fails after `timeoutMs` naming `what`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface ClientClose {
  /** ms from connect to close. */
  afterMs: number;
  hadError: boolean;
  error: string | undefined;
}

/** A connected TCP client that records everything it receives. */
export class TcpClient {
  readonly chunks: Buffer[] = [];
  readonly closed: Promise<ClientClose>;
  connectedAt = 0;
  /** The client's own port, kept from connect (Node forgets it after close). */
  localPort = -1;
  error: NodeJS.ErrnoException | undefined;
  isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => this.chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => (this.error ??= e));
    this.closed = new Promise((resolve) =>
      socket.once('close', (hadError) => {
        this.isClosed = true;
        resolve({
          afterMs: performance.now() - this.connectedAt,
          hadError,
          error: this.error?.code,
        });
      }),
    );
  }

  static connect(
    port: number,
    opts: { host?: string; localAddress?: string; timeoutMs?: number } = {},
  ): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: opts.host ?? LOOPBACK,
        port,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      });
      const client = new TcpClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${port} timed out`));
      }, opts.timeoutMs ?? 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        client.connectedAt = performance.now();
        client.localPort = socket.localPort ?? -1;
        resolve(client);
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Waits until at least `n` bytes arrived. */
  async receivedAtLeast(n: number, timeoutMs = 10_000): Promise<Buffer> {
    await waitUntil(
      () => this.received.length >= n || this.isClosed,
      timeoutMs,
      `${n} bytes from port ${this.socket.remotePort}`,
    );
    return this.received;
  }

  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(data, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Half-closes (FIN) after `data`. */
  end(data?: Buffer | string): void {
    if (data === undefined) this.socket.end();
    else this.socket.end(data);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits for the close, failing after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<ClientClose> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`port ${this.socket.remotePort} did not close in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Connects, sends `data`, half-closes, and returns what came back once the server closed. */
export async function tcpExchange(
  port: number,
  data: Buffer | string,
  opts: { localAddress?: string } = {},
): Promise<{ received: Buffer; localPort: number; close: ClientClose }> {
  const c = await TcpClient.connect(port, opts);
  const localPort = c.localPort;
  c.end(data);
  const close = await c.waitClosed();
  return { received: c.received, localPort, close };
}
