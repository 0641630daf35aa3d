// Which addresses a plugin may connect to. The destination's name is
// resolved once here and every address it resolves to is checked; the
// protocol modules then connect to the checked address only (no second
// lookup, so no DNS-rebinding window).
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { EgressTarget } from '../egress.js';
import { NetworkFailure } from './common.js';

/** Loopback, private, link-local, shared, documentation, multicast and reserved ranges (RFC 6890). */
const SPECIAL: readonly (readonly [string, number, 'ipv4' | 'ipv6'])[] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  // IPv4-compatible, loopback and unspecified.
  ['::', 96, 'ipv6'],
  // IPv4-mapped addresses (::ffff:a.b.c.d) need no rule: BlockList checks
  // them against the IPv4 rules. NAT64 prefixes hide any IPv4 address.
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'],
  // IETF protocol assignments (Teredo among them), documentation, 6to4.
  ['2001::', 23, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

const special = new BlockList();
for (const [net, bits, family] of SPECIAL) special.addSubnet(net, bits, family);

/** True when `address` (an IP literal) is in a loopback, private or special range. */
export function isSpecialAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return special.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export type Lookup = (host: string) => Promise<string[]>;

/** getaddrinfo (hosts file, then DNS), every address. */
export const systemLookup: Lookup = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface AddressPolicy {
  /** plugins.network.allowPrivate. */
  allowPrivate: boolean;
  lookup?: Lookup;
  /** Aborts a slow lookup (the request's deadline). */
  signal?: AbortSignal;
}

/**
 * The address to connect to for `target`: the host itself when it is an IP
 * literal, else every address its name resolves to, all checked; the first
 * is used. A name with one address in a special range is refused whole, so
 * a record set mixing public and private answers cannot be used to reach the
 * private one. Throws AddressRefused (the policy says no) or NetworkFailure
 * (the lookup failed).
 */
export async function resolveAddress(target: EgressTarget, p: AddressPolicy): Promise<string> {
  const { host } = target;
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await withAbort((p.lookup ?? systemLookup)(host), p.signal);
    } catch (err) {
      if (err instanceof NetworkFailure) throw err;
      throw new NetworkFailure(`cannot resolve ${host}: ${(err as Error).message}`, err);
    }
    if (!addresses.length) throw new NetworkFailure(`${host} has no address`);
  }
  if (!target.operatorGranted && !p.allowPrivate) {
    const bad = addresses.filter(isSpecialAddress);
    if (bad.length)
      throw new AddressRefused(
        `${host}${bad[0] === host ? '' : ` (${bad.join(', ')})`} is a loopback, private or special address (plugins.network.allowPrivate is false and the operator did not list it in plugins.network.hosts)`,
      );
  }
  return addresses[0]!;
}

/** A policy refusal; the broker turns it into HT_PLUGIN_DENIED. */
export class AddressRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AddressRefused';
  }
}

function withAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new NetworkFailure('timed out resolving the name'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
