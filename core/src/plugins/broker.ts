// Network egress for plugins: the only way a plugin reaches the network. The
// host checks the manifest (attacker only, or an allow-list), refuses
// loopback, private and special ranges unless allowed, and bounds size and time.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, isIPv4 } from 'node:net';
import type { Attack } from '../generated/attack.js';
import { checkEgress } from './egress.js';
import {
  PluginError,
  type FetchRequest,
  type ExchangeResponse,
  type FetchResponse,
  type LoadedPlugin,
  type NetworkBroker,
} from './engine.js';

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 3],
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

export interface BrokerOptions {
  /** Allow private and loopback ranges (test labs). */
  allowPrivate: boolean;
  maxBytes: number;
  timeoutMs: number;
}

export class HostBroker implements NetworkBroker {
  constructor(private readonly opts: BrokerOptions) {}

  async fetch(plugin: LoadedPlugin, attack: Attack, req: FetchRequest): Promise<FetchResponse> {
    const deny = (why: string) =>
      new PluginError('HT_PLUGIN_DENIED', plugin.manifest.name, `network: ${why}`);
    const { url, host } = checkEgress(plugin, attack, req.url);
    const address = isIP(host) ? host : (await lookup(host)).address;
    if (!this.opts.allowPrivate && blocked.check(address, isIPv4(address) ? 'ipv4' : 'ipv6'))
      throw deny(`${host} (${address}) is a loopback, private or special address`);
    const maxBytes = Math.min(req.maxBytes ?? this.opts.maxBytes, this.opts.maxBytes);
    const res = await fetch(url, {
      method: req.method ?? 'GET',
      headers: req.headers ?? {},
      ...(req.body ? { body: Buffer.from(req.body, 'base64') } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(
        Math.min(req.timeoutMs ?? this.opts.timeoutMs, this.opts.timeoutMs),
      ),
    });
    const parts: Buffer[] = [];
    let size = 0;
    let truncated = false;
    if (res.body)
      for await (const chunk of res.body) {
        const b = Buffer.from(chunk as Uint8Array);
        if (size + b.length > maxBytes) {
          parts.push(b.subarray(0, maxBytes - size));
          size = maxBytes;
          truncated = true;
          break;
        }
        parts.push(b);
        size += b.length;
      }
    return {
      status: res.status,
      headers: Object.fromEntries(res.headers.entries()),
      body: Buffer.concat(parts, size).toString('base64'),
      truncated,
    };
  }

  exchange(plugin: LoadedPlugin): Promise<ExchangeResponse> {
    return Promise.reject(
      new PluginError(
        'HT_PLUGIN_DENIED',
        plugin.manifest.name,
        'network: exchange is not built yet',
      ),
    );
  }
}
