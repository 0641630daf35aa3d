// Running without root. The nfqueue capture needs CAP_NET_ADMIN for as long
// as it gives verdicts (not only to open the queue), and listeners opened on
// demand need CAP_NET_BIND_SERVICE for ports below 1024. Node cannot keep
// capabilities across setuid, so `honeytrap run` as root with
// privileges.user set re-runs itself through util-linux setpriv as that
// user, with exactly those two capabilities as ambient capabilities. The
// root parent only waits and forwards signals. See docs/nfqueue.md.
import { spawn, execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HoneytrapError } from '../errors.js';

/** Set in the re-run child so it does not re-run itself again. */
export const DROPPED_ENV = 'HONEYTRAP_PRIVILEGES_DROPPED';
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_ADMIN = 12;

/** Whether this process holds a capability now (CapEff of /proc/self/status). */
export function hasCapability(bit: number): boolean {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  const mask = BigInt('0x' + (line?.split(/\s+/)[1] ?? '0'));
  return (mask & (1n << BigInt(bit))) !== 0n;
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

export interface Account {
  user: string;
  uid: number;
  gid: number;
}

export function resolveAccount(user: string, group: string): Account {
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
  return { user, uid: Number(pw[2]), gid };
}

/** Whether `honeytrap run` should re-run itself as privileges.user. */
export function shouldDrop(user: string): boolean {
  return !!user && process.getuid?.() === 0 && !process.env[DROPPED_ENV];
}

/**
 * Hands the store (and the control socket's folder) to the account, then
 * runs this same command as that account with CAP_NET_ADMIN and
 * CAP_NET_BIND_SERVICE. Resolves with the child's exit code.
 */
export function rerunAs(account: Account, owned: string[]): Promise<number> {
  for (const p of owned) {
    mkdirSync(p, { recursive: true });
    chownTree(p, account.uid, account.gid);
  }
  const caps = '+net_admin,+net_bind_service';
  const args = [
    `--reuid=${account.uid}`,
    `--regid=${account.gid}`,
    '--init-groups',
    `--inh-caps=${caps}`,
    `--ambient-caps=${caps}`,
    '--',
    process.execPath,
    ...process.execArgv,
    ...process.argv.slice(1),
  ];
  const child = spawn('setpriv', args, {
    stdio: 'inherit',
    env: { ...process.env, [DROPPED_ENV]: account.user },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(sig, () => child.kill(sig));
  return new Promise((resolve, reject) => {
    child.once('error', (err) =>
      reject(
        new HoneytrapError(
          'HT_UNSUPPORTED',
          `cannot drop privileges: setpriv failed (${err.message}); install util-linux`,
          { cause: err },
        ),
      ),
    );
    child.once('exit', (code, signal) =>
      resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)),
    );
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}
