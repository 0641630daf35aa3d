// Drops root after the queue and the store are open. Listeners are opened on
// demand later, so binding ports below 1024 must keep working without root:
// we lower net.ipv4.ip_unprivileged_port_start to 0 in our network namespace
// (Node cannot keep CAP_NET_BIND_SERVICE across setuid). See docs/operations.md.
import { execFileSync } from 'node:child_process';
import { chownSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HoneytrapError } from '../errors.js';

export interface DropResult {
  uid: number;
  gid: number;
  user: string;
}

function lookup(kind: 'passwd' | 'group', name: string): string[] | undefined {
  try {
    return execFileSync('getent', [kind, name], { encoding: 'utf8' }).trim().split(':');
  } catch {
    return undefined;
  }
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory())
    for (const e of readdirSync(path)) chownTree(join(path, e), uid, gid);
}

export function dropPrivileges(user: string, group: string, owned: string[]): DropResult {
  if (process.getuid?.() !== 0)
    throw new HoneytrapError(
      'HT_UNSUPPORTED',
      `privileges.user is "${user}" but the daemon is not running as root`,
    );
  const pw = lookup('passwd', user);
  if (!pw)
    throw new HoneytrapError('HT_UNSUPPORTED', `privileges.user: no user "${user}" on this system`);
  let gid = Number(pw[3]);
  if (group) {
    const gr = lookup('group', group);
    if (!gr)
      throw new HoneytrapError(
        'HT_UNSUPPORTED',
        `privileges.group: no group "${group}" on this system`,
      );
    gid = Number(gr[2]);
  }
  const uid = Number(pw[2]);
  writeFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', '0');
  // The store keeps creating files (LevelDB logs and tables): it must stay writable.
  for (const p of owned) chownTree(p, uid, gid);
  (process as { initgroups?: (user: string, gid: number) => void }).initgroups?.(user, gid);
  process.setgid?.(gid);
  process.setuid?.(uid);
  return { uid, gid, user };
}
