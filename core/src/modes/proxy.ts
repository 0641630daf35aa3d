// proxy: forward the session to a configured host:port (e.g. a
// high-interaction honeypot), chosen per source network; normal mode when the
// target is down.
import { BlockList, isIPv4 } from 'node:net';
import type { PortSettings } from '../config/ports.js';
import type { Endpoint, Session, SessionHost } from '../session/types.js';
import { normal } from './normal.js';
import { spliceOrFallback } from './splice.js';

export function parseTarget(target: string): Endpoint {
  const i = target.lastIndexOf(':');
  return {
    address: target.slice(0, i).replace(/^\[(.*)\]$/, '$1'),
    port: Number(target.slice(i + 1)),
  };
}

const routeCache = new WeakMap<
  NonNullable<PortSettings['proxy']>,
  { list: BlockList; target: Endpoint }[]
>();

/** The target for a session from `source`: the first matching route, else the default. */
export function proxyTarget(proxy: NonNullable<PortSettings['proxy']>, source: string): Endpoint {
  let routes = routeCache.get(proxy);
  if (!routes) {
    routes = (proxy.routes ?? []).map((r) => {
      const [net, bits] = r.from.split('/') as [string, string];
      const list = new BlockList();
      list.addSubnet(net, Number(bits), isIPv4(net) ? 'ipv4' : 'ipv6');
      return { list, target: parseTarget(r.target) };
    });
    routeCache.set(proxy, routes);
  }
  const family = isIPv4(source) ? 'ipv4' : 'ipv6';
  return routes.find((r) => r.list.check(source, family))?.target ?? parseTarget(proxy.target);
}

export function proxy(session: Session, host: SessionHost): void {
  const cfg = session.settings.proxy;
  if (!cfg) {
    session.fallback('proxy', 'no proxy target configured for this port');
    return normal(session);
  }
  spliceOrFallback(session, host, 'proxy', proxyTarget(cfg, session.remote.address));
}
