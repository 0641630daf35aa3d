// log-attacker: one line per attack in the format of honeytrap's logAttacker
// module (github.com/tillmannw/honeytrap, src/modules/htm_logAttacker.c), the
// attacker.log T-Pot's honeytrap writes next to attackers.json:
//
//   [2026-11-25 19:40:01:256000 GMT] tcp 198.51.100.7:40000 -> 192.0.2.1:80 MD5 SHA512 (36 bytes)
//
// An output plugin: it consumes reports and appends to a file in its own
// folder through ctx.files, rotated by size. This file is the plugin as
// shipped: it must stand alone (no imports but allowed node: builtins). The
// named exports are for its tests.
import { createHash } from 'node:crypto';

/** @typedef {import('@honeytrap/sdk').WorkerPlugin} WorkerPlugin */
/** @typedef {import('@honeytrap/sdk').Attack} Attack */

/**
 * honeytrap's time stamp: strftime("%F %H:%M:%S") in UTC, a colon, then the
 * microseconds printed with %lu, so without leading zeros (5 ms is ":5000",
 * 0 is ":0"); kept as it is, since parsers of attacker.log expect it.
 * @param {string} iso
 */
export function stamp(iso) {
  const d = new Date(iso);
  const day = d.toISOString().slice(0, 10);
  const time = d.toISOString().slice(11, 19);
  return `${day} ${time}:${d.getUTCMilliseconds() * 1000} GMT`;
}

/** address:port; an IPv6 address in brackets ([2001:db8::1]:80), as in URLs. */
export function endpoint({ address, port }) {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The line for one attack. honeytrap stamps the line when it logs it, which is
 * when the session ended; we use the attack's end time, so a line does not
 * depend on how long the analysis plugins took.
 * @param {Attack} attack
 */
export function attackerLine(attack) {
  const data = Buffer.from(attack.received.data, 'base64');
  const md5 = createHash('md5').update(data).digest('hex');
  const sha512 = createHash('sha512').update(data).digest('hex');
  return `[${stamp(attack.endedAt)}] ${attack.proto} ${endpoint(attack.remote)} -> ${endpoint(attack.local)} ${md5} ${sha512} (${data.length} bytes)\n`;
}

/** @type {WorkerPlugin<{ file: string, maxBytes: number, keep: number }>} */
export default {
  async analyze(input, ctx) {
    if (input.kind !== 'report') return;
    const { file, maxBytes, keep } = ctx.config;
    await ctx.files.append(file, attackerLine(input.attack), { rotate: { maxBytes, keep } });
  },
};
