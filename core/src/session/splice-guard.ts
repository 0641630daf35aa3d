// Who mirror and proxy may connect to, and how many at once. Mirror never
// connects to our own addresses, loopback or unspecified/multicast
// addresses, and never back to a peer that is itself mirroring us (two
// honeypots in mirror mode would otherwise bounce a connection forever).
//
// A loop looks like this from here: a connection from X on port P arrives
// while a mirror connection of ours to X:P is open and X has not sent a byte
// on it yet (in a loop nothing answers until one side stops the loop). An
// attacker's own second connection to P, once its first mirror has answered,
// is no loop and is mirrored too (up to splice.mirrorPerSource).
import { BlockList, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import type { Endpoint, SpliceRole } from './types.js';

const special = new BlockList();
special.addSubnet('127.0.0.0', 8, 'ipv4');
special.addSubnet('0.0.0.0', 8, 'ipv4');
special.addSubnet('224.0.0.0', 4, 'ipv4');
special.addSubnet('240.0.0.0', 4, 'ipv4');
special.addAddress('::1', 'ipv6');
special.addAddress('::', 'ipv6');
special.addSubnet('ff00::', 8, 'ipv6');

export type Admission =
  | {
      ok: true;
      /** The session ended (or never connected): gives the room back. Idempotent. */
      release: () => void;
      /** The peer sent its first byte: this mirror is no longer a loop suspect. Idempotent. */
      answered: () => void;
    }
  | { ok: false; reason: string };

export class SpliceGuard {
  private readonly perSource = new Map<string, number>();
  private mirrors = 0;
  private proxies = 0;
  /** Peers we are mirroring to that have not answered yet: "proto address port" -> count. */
  private readonly silent = new Map<string, number>();
  private own = new Set<string>();
  private ownRefreshed = 0;

  constructor(private readonly cfg: ResolvedConfig['splice']) {}

  get connectTimeoutMs(): number {
    return this.cfg.connectTimeoutMs;
  }

  private isOwn(address: string): boolean {
    const now = Date.now();
    if (now - this.ownRefreshed > 10_000) {
      this.own = new Set(
        Object.values(networkInterfaces())
          .flat()
          .map((i) => i?.address.toLowerCase() ?? ''),
      );
      this.ownRefreshed = now;
    }
    return this.own.has(address.toLowerCase());
  }

  admit(role: SpliceRole, proto: string, remote: Endpoint, peer: Endpoint): Admission {
    if (role === 'proxy') {
      if (this.proxies >= this.cfg.proxyTotal)
        return { ok: false, reason: `${this.proxies} proxy sessions open (splice.proxyTotal)` };
      this.proxies++;
      let done = false;
      return {
        ok: true,
        release: () => void (done ? 0 : ((done = true), this.proxies--)),
        answered: () => undefined,
      };
    }
    const addr = peer.address;
    if (special.check(addr, isIPv4(addr) ? 'ipv4' : 'ipv6'))
      return { ok: false, reason: `${addr} is a loopback or special address` };
    if (this.isOwn(addr)) return { ok: false, reason: `${addr} is an address of this host` };
    const loopKey = `${proto} ${addr} ${peer.port}`;
    // A connection from a peer we are mirroring to on the same port, and that
    // peer has not answered that mirror yet: it is mirroring us back.
    if (this.silent.has(loopKey))
      return { ok: false, reason: `${addr} is mirroring port ${peer.port} back to us (loop)` };
    const n = this.perSource.get(remote.address) ?? 0;
    if (n >= this.cfg.mirrorPerSource)
      return {
        ok: false,
        reason: `${n} mirror sessions open for ${remote.address} (splice.mirrorPerSource)`,
      };
    if (this.mirrors >= this.cfg.mirrorTotal)
      return { ok: false, reason: `${this.mirrors} mirror sessions open (splice.mirrorTotal)` };
    this.mirrors++;
    this.perSource.set(remote.address, n + 1);
    this.silent.set(loopKey, (this.silent.get(loopKey) ?? 0) + 1);
    let done = false;
    let heard = false;
    const answered = () => {
      if (heard) return;
      heard = true;
      const out = (this.silent.get(loopKey) ?? 1) - 1;
      if (out > 0) this.silent.set(loopKey, out);
      else this.silent.delete(loopKey);
    };
    return {
      ok: true,
      release: () => {
        if (done) return;
        done = true;
        this.mirrors--;
        const left = (this.perSource.get(remote.address) ?? 1) - 1;
        if (left > 0) this.perSource.set(remote.address, left);
        else this.perSource.delete(remote.address);
        answered();
      },
      answered,
    };
  }

  stats(): { mirrors: number; proxies: number } {
    return { mirrors: this.mirrors, proxies: this.proxies };
  }
}
