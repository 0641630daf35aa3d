// One request/response over a stream (ctx.exchange), for line protocols like
// clamd's INSTREAM: connect to the checked address (or the operator's unix
// socket), send, half-close, read until the peer closes, the size cap or the
// deadline.
import { createConnection, type NetConnectOpts } from 'node:net';
import type { EgressTarget } from '../egress.js';
import type { ExchangeRequest } from '../engine.js';
import { CappedBody, NetworkFailure, errnoText, timedOut, type Limits } from './common.js';

export interface ExchangeAnswer {
  data: string;
  truncated: boolean;
}

export function streamExchange(
  t: EgressTarget,
  address: string,
  req: ExchangeRequest,
  limits: Limits,
): Promise<ExchangeAnswer> {
  const to: NetConnectOpts =
    t.scheme === 'unix' ? { path: t.socketPath! } : { host: address, port: t.port };
  return new Promise<ExchangeAnswer>((resolve, reject) => {
    const body = new CappedBody(limits.maxBytes);
    const sock = createConnection({ ...to, allowHalfOpen: true });
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      limits.signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve({ data: body.base64(), truncated: body.truncated });
    };
    const onAbort = () => finish(timedOut(limits, 'exchange'));
    if (limits.signal.aborted) return onAbort();
    limits.signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => sock.end(Buffer.from(req.data, 'base64')));
    sock.on('data', (chunk: Buffer) => {
      if (!body.add(chunk)) finish();
    });
    sock.once('end', () => finish());
    sock.once('error', (err) => finish(new NetworkFailure(errnoText(err), err)));
  });
}
