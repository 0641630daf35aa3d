// Addresses as an operator writes them: IPv4-mapped IPv6 (::ffff:1.2.3.4,
// what a dual-stack socket reports) becomes plain IPv4.
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address.toLowerCase();
}
