// What a plugin's manifest allows it to reach: the checks of the network
// broker before any lookup or connection (shared with the SDK's harness).
import type { Attack } from '../generated/attack.js';
import { PluginError, type LoadedPlugin } from './engine.js';

export function checkEgress(
  plugin: LoadedPlugin,
  attack: Attack,
  rawUrl: string,
): { url: URL; host: string } {
  const deny = (why: string) =>
    new PluginError('HT_PLUGIN_DENIED', plugin.manifest.name, `network: ${why}`);
  const net = plugin.manifest.capabilities.network;
  if (!net) throw deny('the manifest grants no network capability');
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw deny(`"${rawUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw deny(`${url.protocol} is not supported (http and https only)`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (net.egress === 'attacker' && host !== attack.remote.address)
    throw deny(`${host} is not the attacking host ${attack.remote.address} (egress: attacker)`);
  if (net.egress === 'allow-list' && !(net.hosts ?? []).includes(host))
    throw deny(`${host} is not in the manifest's allowed hosts`);
  return { url, host };
}
