// Real sockets inside a namespace, driven from the test: a small Node program
// runs in the namespace and takes commands (connect, write, half-close, reset,
// UDP send) as JSON lines on stdin; it reports every event (connect, data,
// end, error, close, datagram) with its time (performance.now() in the agent,
// so times of one agent compare) as JSON lines on stdout.
import { waitUntil } from './clients.js';
import type { Background, Netns } from './netns.js';

// Plain JavaScript: it runs with `node -e` inside the namespace.
const AGENT = `
const net = require('node:net');
const dgram = require('node:dgram');
const socks = new Map();
const emit = (o) => process.stdout.write(JSON.stringify({ ...o, t: performance.now() }) + '\\n');
function handle(c) {
  const s = socks.get(c.id);
  switch (c.op) {
    case 'tcp': {
      const o = { host: c.host, port: c.port, allowHalfOpen: !!c.allowHalfOpen };
      if (c.localAddress) o.localAddress = c.localAddress;
      const k = net.connect(o);
      socks.set(c.id, k);
      k.on('connect', () => emit({ ev: 'connect', id: c.id, localPort: k.localPort }));
      k.on('data', (d) => emit({ ev: 'data', id: c.id, data: d.toString('base64') }));
      k.on('end', () => emit({ ev: 'end', id: c.id }));
      k.on('error', (e) => emit({ ev: 'error', id: c.id, code: e.code || e.message }));
      k.on('close', (hadError) => emit({ ev: 'close', id: c.id, hadError }));
      return;
    }
    case 'write':
      return s.write(Buffer.from(c.data, 'base64'), (err) =>
        emit({ ev: 'written', id: c.id, seq: c.seq, error: err ? err.code || err.message : null }));
    case 'end':
      s.end();
      return emit({ ev: 'ended', id: c.id, seq: c.seq });
    case 'destroy':
      return s.destroy();
    case 'reset':
      return s.resetAndDestroy();
    case 'udp': {
      const u = dgram.createSocket('udp4');
      socks.set(c.id, u);
      u.on('message', (m, r) =>
        emit({ ev: 'message', id: c.id, data: m.toString('base64'), address: r.address, port: r.port }));
      u.on('error', (e) => emit({ ev: 'error', id: c.id, code: e.code || e.message }));
      return u.bind({ address: c.address || '0.0.0.0', port: 0 }, () =>
        emit({ ev: 'bound', id: c.id, localPort: u.address().port }));
    }
    case 'send':
      return s.send(Buffer.from(c.data, 'base64'), c.port, c.host, (err) =>
        emit({ ev: 'written', id: c.id, seq: c.seq, error: err ? err.code || err.message : null }));
    case 'close':
      return s.close();
  }
}
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (text) => {
  buf += text;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (!line) continue;
    const c = JSON.parse(line);
    try {
      handle(c);
    } catch (e) {
      emit({ ev: 'error', id: c.id, seq: c.seq, code: e.code || e.message, error: e.code || e.message });
    }
  }
});
process.stdin.on('end', () => process.exit(0));
emit({ ev: 'ready', id: 0 });
`;

interface AgentEvent {
  ev: string;
  id: number;
  t: number;
  data?: string;
  code?: string;
  localPort?: number;
  hadError?: boolean;
  seq?: number;
  error?: string | null;
  address?: string;
  port?: number;
}

type Handle = AgentTcp | AgentUdp;

export class NsAgent {
  private readonly handles = new Map<number, Handle>();
  private readonly acks = new Map<number, (e: AgentEvent) => void>();
  private nextId = 1;
  private nextSeq = 1;
  private partial = '';
  private ready = false;

  private constructor(
    readonly node: string,
    private readonly bg: Background,
  ) {
    bg.child.stdout?.on('data', (s: string) => this.onStdout(s));
  }

  /** Starts an agent inside `node`'s namespace. */
  static async start(net: Netns, node: string): Promise<NsAgent> {
    const bg = net.spawn(node, 'agent', [process.execPath, '-e', AGENT]);
    const agent = new NsAgent(node, bg);
    await waitUntil(() => agent.ready || bg.exit !== undefined, 10_000, `the agent in ${node}`);
    if (!agent.ready) throw new Error(`the agent in ${node} exited: ${bg.output}`);
    return agent;
  }

  private onStdout(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const e = JSON.parse(line) as AgentEvent;
      if (e.ev === 'ready') this.ready = true;
      else if (e.seq !== undefined) {
        this.acks.get(e.seq)?.(e);
        this.acks.delete(e.seq);
      } else this.handles.get(e.id)?.event(e);
    }
  }

  /** Sends a command; with `ack`, resolves with the agent's answer to it. */
  command(c: Record<string, unknown>, ack = false): Promise<AgentEvent> {
    if (this.bg.exit)
      return Promise.reject(new Error(`the agent in ${this.node} exited: ${this.bg.output}`));
    let answer: Promise<AgentEvent> = Promise.resolve({ ev: 'sent', id: 0, t: 0 });
    if (ack) {
      const seq = this.nextSeq++;
      c = { ...c, seq };
      answer = new Promise((resolve) => this.acks.set(seq, resolve));
    }
    this.bg.child.stdin?.write(JSON.stringify(c) + '\n');
    return answer;
  }

  /** Connects to `host:port` from the namespace; rejects with the error code when it cannot. */
  async tcp(
    host: string,
    port: number,
    opts: { localAddress?: string; allowHalfOpen?: boolean; timeoutMs?: number } = {},
  ): Promise<AgentTcp> {
    const id = this.nextId++;
    const sock = new AgentTcp(this, id, `${host}:${port}`);
    this.handles.set(id, sock);
    await this.command({ op: 'tcp', id, host, port, ...opts });
    await waitUntil(
      () => sock.connectedAt !== undefined || sock.closedAt !== undefined,
      opts.timeoutMs ?? 10_000,
      `connect to ${host}:${port}`,
    );
    if (sock.connectedAt === undefined)
      throw new Error(`connect to ${host}:${port} failed: ${sock.error ?? 'closed'}`);
    return sock;
  }

  /** A UDP socket bound inside the namespace (any port). */
  async udp(address?: string): Promise<AgentUdp> {
    const id = this.nextId++;
    const sock = new AgentUdp(this, id);
    this.handles.set(id, sock);
    await this.command({ op: 'udp', id, address });
    await waitUntil(() => sock.localPort > 0 || sock.error !== undefined, 10_000, 'a UDP bind');
    if (sock.error) throw new Error(`UDP bind failed: ${sock.error}`);
    return sock;
  }

  /** Ends the agent (its sockets close with it). */
  async stop(): Promise<void> {
    this.bg.child.stdin?.end();
    await this.bg.stop(2_000);
  }
}

export interface Chunk {
  data: Buffer;
  t: number;
}

/** A TCP connection held by an agent. */
export class AgentTcp {
  readonly chunks: Chunk[] = [];
  connectedAt: number | undefined;
  localPort = -1;
  /** When the peer's FIN arrived. */
  endAt: number | undefined;
  closedAt: number | undefined;
  hadError = false;
  error: string | undefined;

  constructor(
    private readonly agent: NsAgent,
    readonly id: number,
    readonly to: string,
  ) {}

  event(e: AgentEvent): void {
    if (e.ev === 'connect') {
      this.connectedAt = e.t;
      this.localPort = e.localPort ?? -1;
    } else if (e.ev === 'data')
      this.chunks.push({ data: Buffer.from(e.data ?? '', 'base64'), t: e.t });
    else if (e.ev === 'end') this.endAt = e.t;
    else if (e.ev === 'error') this.error ??= e.code;
    else if (e.ev === 'close') {
      this.closedAt = e.t;
      this.hadError = e.hadError ?? false;
    }
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks.map((c) => c.data));
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Writes and resolves once the agent's socket took the bytes. */
  async write(data: Buffer | string): Promise<void> {
    const e = await this.agent.command(
      { op: 'write', id: this.id, data: Buffer.from(data).toString('base64') },
      true,
    );
    if (e.error) throw new Error(`write to ${this.to} failed: ${e.error}`);
  }

  /** Half-closes (FIN); resolves with the agent's time of the half-close. */
  async end(): Promise<number> {
    const e = await this.agent.command({ op: 'end', id: this.id }, true);
    return e.t;
  }

  destroy(): Promise<AgentEvent> {
    return this.agent.command({ op: 'destroy', id: this.id });
  }

  reset(): Promise<AgentEvent> {
    return this.agent.command({ op: 'reset', id: this.id });
  }

  /** Waits until at least `n` bytes arrived (or the connection closed) and returns them. */
  async receivedAtLeast(n: number, timeoutMs = 10_000): Promise<Buffer> {
    await waitUntil(
      () => this.received.length >= n || this.closed,
      timeoutMs,
      `${n} bytes from ${this.to} (have ${this.received.length})`,
    );
    return this.received;
  }

  /** Waits for the close; fails after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    await waitUntil(() => this.closed, timeoutMs, `${this.to} to close`);
  }
}

/** A UDP socket held by an agent. */
export class AgentUdp {
  readonly messages: { data: Buffer; address: string; port: number; t: number }[] = [];
  localPort = -1;
  error: string | undefined;

  constructor(
    private readonly agent: NsAgent,
    readonly id: number,
  ) {}

  event(e: AgentEvent): void {
    if (e.ev === 'bound') this.localPort = e.localPort ?? -1;
    else if (e.ev === 'error') this.error ??= e.code;
    else if (e.ev === 'message')
      this.messages.push({
        data: Buffer.from(e.data ?? '', 'base64'),
        address: e.address ?? '',
        port: e.port ?? 0,
        t: e.t,
      });
  }

  async send(host: string, port: number, data: Buffer | string): Promise<void> {
    const e = await this.agent.command(
      { op: 'send', id: this.id, host, port, data: Buffer.from(data).toString('base64') },
      true,
    );
    if (e.error) throw new Error(`UDP send to ${host}:${port} failed: ${e.error}`);
  }

  /** Waits until `n` datagrams arrived. */
  async waitMessages(n: number, timeoutMs = 5_000): Promise<void> {
    await waitUntil(
      () => this.messages.length >= n,
      timeoutMs,
      `${n} UDP replies (have ${this.messages.length})`,
    );
  }

  close(): Promise<AgentEvent> {
    return this.agent.command({ op: 'close', id: this.id });
  }
}
