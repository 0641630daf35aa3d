// http and https downloads. The socket goes to the address the policy
// checked (a `lookup` that answers with it), while the URL's host name stays
// in the Host header and the TLS server name. Redirects are returned, not
// followed: a Location is a new URL the plugin fetches, checked again.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIPv6, type LookupFunction } from 'node:net';
import type { EgressTarget } from '../egress.js';
import type { FetchRequest, FetchResponse } from '../engine.js';
import { CappedBody, NetworkFailure, errnoText, timedOut, type Limits } from './common.js';

/** Headers the broker sets itself. */
const RESERVED = new Set(['host', 'connection', 'content-length', 'transfer-encoding']);

/** A lookup that answers every query with `address`: the connection is pinned. */
export function pinnedLookup(address: string): LookupFunction {
  const family = isIPv6(address) ? 6 : 4;
  return (_host, opts, cb) => {
    if (opts.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  };
}

export type Answer = Omit<FetchResponse, 'address' | 'durationMs'>;

export function httpFetch(
  t: EgressTarget,
  address: string,
  req: FetchRequest,
  limits: Limits,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {}))
    if (!RESERVED.has(k.toLowerCase())) headers[k] = v;
  const body = req.body ? Buffer.from(req.body, 'base64') : undefined;
  if (body) headers['content-length'] = String(body.length);
  const opts: RequestOptions = {
    method: req.method ?? 'GET',
    host: t.host,
    port: t.port,
    path: `${t.url.pathname}${t.url.search}`,
    headers,
    lookup: pinnedLookup(address),
    // No pooling: every request makes its own connection to its checked address.
    agent: false,
    signal: limits.signal,
  };
  return new Promise<Answer>((resolve, reject) => {
    const fail = (err: unknown) =>
      reject(
        limits.signal.aborted ? timedOut(limits, 'http') : new NetworkFailure(errnoText(err), err),
      );
    const r = (t.scheme === 'https' ? httpsRequest : httpRequest)(opts, (res) => {
      readResponse(res, limits).then(resolve, fail);
    });
    r.on('error', fail);
    r.end(body);
  });
}

async function readResponse(res: IncomingMessage, limits: Limits): Promise<Answer> {
  const out = new CappedBody(limits.maxBytes);
  for await (const chunk of res) {
    if (!out.add(chunk as Buffer)) {
      res.destroy();
      break;
    }
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return {
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? '',
    headers,
    body: out.base64(),
    truncated: out.truncated,
  };
}
