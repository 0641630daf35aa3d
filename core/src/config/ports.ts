// Port entries ("2323", "20000-20099") expanded into one settings record per port/proto.
import type { ResolvedConfig } from '../generated/config-resolved.js';

export type Proto = 'tcp' | 'udp';
export type Mode = ResolvedConfig['defaults']['mode'];

/** Listening sockets the listen capture will open at most (one fd each). */
export const MAX_LISTEN_PORTS = 16384;

export interface PortSettings {
  port: number;
  proto: Proto;
  mode: Mode;
  /** Explicit template name; undefined means "<port>_<proto> if it exists". */
  template: string | undefined;
  readLimit: number;
  idleTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Proxy mode's target(s). */
  proxy: ResolvedConfig['defaults']['proxy'];
}

export function parsePortSpec(
  spec: number | string,
): { from: number; to: number } | { error: string } {
  const [a, b] = typeof spec === 'number' ? [spec, spec] : spec.split('-').map(Number);
  const from = a ?? NaN;
  const to = b ?? from;
  for (const n of [from, to])
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      return { error: `${n} is not a port number (1-65535)` };
  if (from > to) return { error: `range ${from}-${to} is empty (start after end)` };
  return { from, to };
}

export function portKey(port: number, proto: Proto): string {
  return `${port}/${proto}`;
}

export function expandPorts(config: ResolvedConfig): Map<string, PortSettings> {
  const out = new Map<string, PortSettings>();
  for (const entry of config.ports) {
    const range = parsePortSpec(entry.port);
    if ('error' in range) throw new Error(`invalid port spec ${entry.port}: ${range.error}`);
    for (let port = range.from; port <= range.to; port++) {
      out.set(portKey(port, entry.proto), {
        port,
        proto: entry.proto,
        mode: entry.mode ?? config.defaults.mode,
        template: entry.template,
        readLimit: entry.readLimit ?? config.defaults.readLimit,
        idleTimeoutMs: entry.idleTimeoutMs ?? config.defaults.idleTimeoutMs,
        sessionTimeoutMs: entry.sessionTimeoutMs ?? config.defaults.sessionTimeoutMs,
        proxy: entry.proxy ?? config.defaults.proxy,
      });
    }
  }
  return out;
}

/** Settings for a port no entry names (nfqueue capture): the defaults. */
export function defaultSettings(config: ResolvedConfig, port: number, proto: Proto): PortSettings {
  return {
    port,
    proto,
    mode: config.defaults.mode,
    template: undefined,
    readLimit: config.defaults.readLimit,
    idleTimeoutMs: config.defaults.idleTimeoutMs,
    sessionTimeoutMs: config.defaults.sessionTimeoutMs,
    proxy: config.defaults.proxy,
  };
}

/** "2121/tcp, 2323/tcp, 20000-20099/tcp" */
export function describePorts(keys: string[]): string {
  const byProto = new Map<string, number[]>();
  for (const k of new Set(keys)) {
    const [p, proto] = k.split('/') as [string, string];
    byProto.set(proto, [...(byProto.get(proto) ?? []), Number(p)]);
  }
  const parts: string[] = [];
  for (const [proto, ports] of byProto) {
    ports.sort((a, b) => a - b);
    for (let i = 0; i < ports.length;) {
      let j = i;
      while (j + 1 < ports.length && ports[j + 1] === (ports[j] ?? 0) + 1) j++;
      parts.push(i === j ? `${ports[i]}/${proto}` : `${ports[i]}-${ports[j]}/${proto}`);
      i = j + 1;
    }
  }
  return parts.join(', ') || 'no ports';
}
