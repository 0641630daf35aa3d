import { describe, expect, it } from 'vitest';
import { parsePacket } from '../src/capture/packet.js';

function ipv4(proto: number, transport: Buffer, fragOffset = 0): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + transport.length, 2);
  h.writeUInt16BE(fragOffset, 6);
  h[8] = 64;
  h[9] = proto;
  Buffer.from([10, 99, 0, 1]).copy(h, 12);
  Buffer.from([10, 99, 0, 2]).copy(h, 16);
  return Buffer.concat([h, transport]);
}

function ipv6(next: number, rest: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(rest.length, 4);
  h[6] = next;
  h[7] = 64;
  return Buffer.concat([h, rest]);
}

function tcp(dport: number, flags: number): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(40000, 0);
  t.writeUInt16BE(dport, 2);
  t[12] = 0x50;
  t[13] = flags;
  return t;
}

function udp(dport: number): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(40000, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8, 4);
  return u;
}

describe('parsePacket', () => {
  it('reads an IPv4 TCP SYN', () => {
    expect(parsePacket(ipv4(6, tcp(2323, 0x02)))).toEqual({ proto: 'tcp', dport: 2323, syn: true });
  });

  it('does not call a SYN-ACK or an ACK a connection attempt', () => {
    expect(parsePacket(ipv4(6, tcp(80, 0x12)))?.syn).toBe(false);
    expect(parsePacket(ipv4(6, tcp(80, 0x10)))?.syn).toBe(false);
  });

  it('honours IPv4 options (IHL > 5)', () => {
    const p = ipv4(6, Buffer.concat([Buffer.alloc(4), tcp(445, 0x02)]));
    p[0] = 0x46;
    expect(parsePacket(p)).toEqual({ proto: 'tcp', dport: 445, syn: true });
  });

  it('reads IPv4 UDP', () => {
    expect(parsePacket(ipv4(17, udp(5060)))).toEqual({ proto: 'udp', dport: 5060, syn: false });
  });

  it('ignores non-first IPv4 fragments and other protocols', () => {
    expect(parsePacket(ipv4(17, udp(53), 0x0010))).toBeUndefined();
    expect(parsePacket(ipv4(1, Buffer.alloc(8)))).toBeUndefined();
  });

  it('reads IPv6 TCP and UDP, also behind extension headers', () => {
    expect(parsePacket(ipv6(6, tcp(22, 0x02)))).toEqual({ proto: 'tcp', dport: 22, syn: true });
    expect(parsePacket(ipv6(17, udp(161)))).toEqual({ proto: 'udp', dport: 161, syn: false });
    const hopByHop = Buffer.alloc(8);
    hopByHop[0] = 17; // next header: UDP; length 0 -> 8 bytes
    expect(parsePacket(ipv6(0, Buffer.concat([hopByHop, udp(1900)])))).toEqual({
      proto: 'udp',
      dport: 1900,
      syn: false,
    });
    const fragment = Buffer.alloc(8);
    fragment[0] = 6;
    expect(parsePacket(ipv6(44, Buffer.concat([fragment, tcp(8080, 0x02)]))))?.toEqual({
      proto: 'tcp',
      dport: 8080,
      syn: true,
    });
  });

  it('refuses truncated and garbage input without throwing', () => {
    expect(parsePacket(Buffer.alloc(0))).toBeUndefined();
    expect(parsePacket(ipv4(6, tcp(1, 2)).subarray(0, 30))).toBeUndefined();
    expect(parsePacket(ipv6(6, Buffer.alloc(4)))).toBeUndefined();
    expect(parsePacket(Buffer.from([0x20, 1, 2, 3]))).toBeUndefined();
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.alloc(Math.floor(Math.random() * 80));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(Math.random() * 256);
      expect(() => parsePacket(junk)).not.toThrow();
    }
  });
});
