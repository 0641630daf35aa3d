// Index key layouts. ULIDs use [0-9A-Z]; "!" sorts before them and "~" after.
import type { Attack } from '../generated/attack.js';

export const SEP = '!';
export const HIGH = '~';

export function sourceKey(a: Pick<Attack, 'remote' | 'id'>): string {
  return `${a.remote.address}${SEP}${a.id}`;
}

export function portPrefix(proto: string, port: number): string {
  return `${proto}${SEP}${String(port).padStart(5, '0')}${SEP}`;
}

export function portKey(a: Pick<Attack, 'proto' | 'local' | 'id'>): string {
  return portPrefix(a.proto, a.local.port) + a.id;
}

/** The attack id at the end of an index key. */
export function idOf(indexKey: string): string {
  return indexKey.slice(indexKey.lastIndexOf(SEP) + 1);
}
