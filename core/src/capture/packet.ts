// Just enough IPv4/IPv6 parsing to know "a TCP SYN or UDP datagram to port P".

export interface PacketInfo {
  proto: 'tcp' | 'udp';
  dport: number;
  /** TCP only: SYN without ACK (a connection attempt). */
  syn: boolean;
}

const TCP = 6;
const UDP = 17;
// IPv6 extension headers that are followed by a "next header" field.
const IPV6_EXT = new Set([0, 43, 60]);
const IPV6_FRAGMENT = 44;

/** The transport info of an IP packet, or undefined for anything else or malformed input. */
export function parsePacket(p: Buffer): PacketInfo | undefined {
  if (p.length < 1) return undefined;
  const version = p[0]! >> 4;
  let proto: number;
  let off: number;
  if (version === 4) {
    if (p.length < 20) return undefined;
    off = (p[0]! & 0x0f) * 4;
    proto = p[9]!;
    // Not the first fragment: no transport header here.
    if ((p.readUInt16BE(6) & 0x1fff) !== 0) return undefined;
  } else if (version === 6) {
    if (p.length < 40) return undefined;
    proto = p[6]!;
    off = 40;
    for (let hops = 0; hops < 8 && (IPV6_EXT.has(proto) || proto === IPV6_FRAGMENT); hops++) {
      if (p.length < off + 8) return undefined;
      const next = p[off]!;
      if (proto === IPV6_FRAGMENT) {
        if ((p.readUInt16BE(off + 2) & 0xfff8) !== 0) return undefined;
        off += 8;
      } else {
        off += (p[off + 1]! + 1) * 8;
      }
      proto = next;
    }
  } else {
    return undefined;
  }
  if (proto === TCP) {
    if (p.length < off + 14) return undefined;
    const flags = p[off + 13]!;
    return { proto: 'tcp', dport: p.readUInt16BE(off + 2), syn: (flags & 0x12) === 0x02 };
  }
  if (proto === UDP) {
    if (p.length < off + 8) return undefined;
    return { proto: 'udp', dport: p.readUInt16BE(off + 2), syn: false };
  }
  return undefined;
}
