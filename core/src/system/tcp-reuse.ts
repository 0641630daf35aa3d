// Mirror connects to the same address and port for every session of an
// attacker; each outgoing connection we close first sits in TIME_WAIT for a
// minute, which caps mirror at ~470 new connections/s per attacker port (the
// original honeytrap's limit). tcp_tw_reuse=1 lets new outgoing connections
// reuse those 4-tuples safely (TCP timestamps). It is a per-network-namespace
// setting.
import { readFileSync, writeFileSync } from 'node:fs';

const PATH = '/proc/sys/net/ipv4/tcp_tw_reuse';

export function enableTimeWaitReuse(): { value: number; changed: boolean; error?: string } {
  try {
    const value = Number(readFileSync(PATH, 'utf8').trim());
    if (value === 1) return { value, changed: false };
    writeFileSync(PATH, '1');
    return { value: 1, changed: true };
  } catch (err) {
    return { value: NaN, changed: false, error: (err as Error).message };
  }
}
