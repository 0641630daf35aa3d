// Free loopback ports for a test daemon: a contiguous range where every port
// can be bound for TCP and UDP right now, below the kernel's ephemeral range so
// client sockets never take one of them.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low !== undefined && Number.isInteger(low) && low > 10_000) return low;
  } catch {
    /* not Linux: fall through */
  }
  return 32768;
}

function canBindTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: LOOPBACK, port, exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: LOOPBACK, port, exclusive: true }, () =>
      socket.close(() => resolve(true)),
    );
  });
}

/** The first port of `count` consecutive ports that are free for TCP and UDP on loopback. */
export async function freePortRange(count: number): Promise<number> {
  const high = ephemeralLow() - count;
  const low = 20_000;
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    let ok = true;
    for (let p = base; p < base + count && ok; p++)
      ok = (await canBindTcp(p)) && (await canBindUdp(p));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free loopback ports found`);
}

/** One free port (TCP and UDP). */
export function freePort(): Promise<number> {
  return freePortRange(1);
}
