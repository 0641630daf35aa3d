// The control socket: a small HTTP API on a Unix socket so the honeytrap
// command can read the store while the daemon (LevelDB's one writer) runs.
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { DaemonStats } from '../daemon.js';
import type { PluginView } from '../plugins/registry.js';
import { HoneytrapError } from '../errors.js';
import type { AttackStore } from '../store/attack-store.js';
import { parseListQuery } from './query.js';

export const MAX_SOCKET_PATH = 107;

export interface ControlTarget {
  store: AttackStore;
  stats(): DaemonStats;
  plugins: {
    list(): PluginView[];
    registry: {
      enable(name: string): Promise<PluginView | undefined>;
      disable(name: string, reason: string, byOperator: boolean): Promise<PluginView | undefined>;
    };
  };
}

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async start(path: string, target: ControlTarget): Promise<ControlServer> {
    // sun_path holds 107 bytes: a longer path would be cut and land elsewhere.
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH)
      throw new HoneytrapError(
        'HT_CONTROL',
        `control socket path ${path} is ${Buffer.byteLength(path)} bytes; the limit is ${MAX_SOCKET_PATH} (set control.socket to a shorter path)`,
        { file: path },
      );
    // We hold the store's lock, so a socket file left here is a dead daemon's.
    await unlink(path).catch(() => undefined);
    const server = createServer((req, res) => {
      handle(target, req.method ?? 'GET', req.url ?? '/', res).catch((err: unknown) =>
        reply(res, 500, { error: String(err) }),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    await chmod(path, 0o600);
    return new ControlServer(server, path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

async function handle(target: ControlTarget, method: string, rawUrl: string, res: ServerResponse) {
  const url = new URL(rawUrl, 'http://control');
  const action = /^\/plugins\/([a-z0-9-]+)\/(enable|disable)$/.exec(url.pathname);
  if (method === 'POST' && action?.[1] && action[2]) {
    const [, name, verb] = action;
    const view =
      verb === 'enable'
        ? await target.plugins.registry.enable(name)
        : await target.plugins.registry.disable(name, 'disabled by the operator', true);
    return view ? reply(res, 200, view) : reply(res, 404, { error: `no plugin ${name}` });
  }
  if (method !== 'GET') return reply(res, 405, { error: `${method} ${url.pathname} not allowed` });
  if (url.pathname === '/plugins') return reply(res, 200, target.plugins.list());
  const artifact = /^\/artifacts\/([0-9a-f]{64})$/.exec(url.pathname);
  if (artifact?.[1]) {
    const a = await target.store.getArtifact(artifact[1]);
    return a
      ? reply(res, 200, { meta: a.meta, data: a.data.toString('base64') })
      : reply(res, 404, { error: `no artifact ${artifact[1]}` });
  }
  if (url.pathname === '/status') return reply(res, 200, target.stats());
  if (url.pathname === '/attacks') {
    const q = parseListQuery(url.searchParams);
    if ('error' in q) return reply(res, 400, q);
    return reply(res, 200, await target.store.list(q));
  }
  const m = /^\/attacks\/([0-9A-Za-z]+)$/.exec(url.pathname);
  if (m?.[1]) {
    const attack = await target.store.get(m[1].toUpperCase());
    return attack ? reply(res, 200, attack) : reply(res, 404, { error: `no attack ${m[1]}` });
  }
  return reply(res, 404, { error: `no route ${url.pathname}` });
}
