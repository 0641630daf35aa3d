// ListFilter <-> URL query, shared by the control server and client.
import type { ListFilter } from '../store/attack-store.js';

export function toListQuery(f: ListFilter): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== undefined) q.set(k, String(v));
  return q.toString();
}

export function parseListQuery(q: URLSearchParams): ListFilter | { error: string } {
  const f: ListFilter = {};
  const int = (k: string) => {
    const v = q.get(k);
    if (v === null) return undefined;
    // Digits only: Number() would also take "", "0x10" and "1e3".
    return /^-?\d+$/.test(v) ? Number(v) : NaN;
  };
  const sinceMs = int('sinceMs');
  const port = int('port');
  const limit = int('limit');
  if (Number.isNaN(sinceMs) || Number.isNaN(port) || Number.isNaN(limit))
    return { error: 'sinceMs, port and limit must be integers' };
  if (sinceMs !== undefined) f.sinceMs = sinceMs;
  if (port !== undefined) f.port = port;
  if (limit !== undefined) f.limit = limit;
  const proto = q.get('proto');
  if (proto === 'tcp' || proto === 'udp') f.proto = proto;
  else if (proto !== null) return { error: 'proto must be tcp or udp' };
  const source = q.get('source');
  if (source !== null) f.source = source;
  return f;
}
