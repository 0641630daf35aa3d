// Issue 3, privileges: the nfqueue capture refuses to start without root and
// says why; with privileges.user the daemon drops to that user after opening
// the queue and still traps (and records) a port below 1024. Also: a SIGTERM
// stops the daemon and the process exits.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { b64, listAttacks } from '../lib/cli.js';
import { sleep } from '../lib/clients.js';
import { BIN, BUILTIN_TEMPLATES, REPO, makeTempDir } from '../lib/daemon.js';
import { nfqConfig, nfqSuite, startFor, writeNfqConfig } from '../lib/nfq-suite.js';
import { ncat } from '../lib/ns-clients.js';

const env = nfqSuite('priv', ['ncat', 'setpriv', 'getent']);

function idOf(kind: 'passwd' | 'group', name: string): number {
  const fields = execFileSync('getent', [kind, name], { encoding: 'utf8' }).trim().split(':');
  return Number(fields[2]);
}

/** The real, effective, saved and filesystem ids from /proc/<pid>/status. */
async function ids(pid: number): Promise<{ uid: number[]; gid: number[] }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const line = (name: string) =>
    (
      /^(\w+):\s+(.*)$/m.exec(
        status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '',
      )?.[2] ?? ''
    )
      .split(/\s+/)
      .map(Number);
  return { uid: line('Uid'), gid: line('Gid') };
}

describe('nfqueue capture: privileges', () => {
  test('honeytrap run with nfqueue as a non-root user is refused, naming the reason', async () => {
    const { net } = env();
    const dir = await makeTempDir('honeytrap-nfq-nobody-');
    // nobody may read the config and write the store: only the missing root is wrong.
    chownSync(dir, idOf('passwd', 'nobody'), idOf('group', 'nogroup'));
    chmodSync(dir, 0o755);
    const { configPath } = await writeNfqConfig({ queue: 16 }, dir);
    chmodSync(configPath, 0o644);
    const r = await net.exec(
      net.honeypot,
      [
        'setpriv',
        '--reuid=nobody',
        '--regid=nogroup',
        '--clear-groups',
        process.execPath,
        BIN,
        'run',
        '--config',
        configPath,
      ],
      { timeoutMs: 20_000 },
    );
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr + r.stdout).toMatch(/needs root/);
    expect(r.stdout).not.toContain('Trapping attacks via NFQ');
    const rows = await net.queueRows();
    expect(rows, 'no queue may be bound').toEqual([]);
  });

  test('privileges.user nobody: runs as nobody after start, still traps 21/tcp and records it', async () => {
    const s = env();
    const nobody = idOf('passwd', 'nobody');
    const dir = await makeTempDir('honeytrap-nfq-drop-');
    // The daemon chowns its store to nobody; nobody must be able to reach it.
    chmodSync(dir, 0o755);
    // An output plugin whose folder the operator named and root made (T-Pot's
    // /data/honeytrap/log): the daemon hands it to nobody with the store.
    const pluginsDir = join(dir, 'plugins');
    cpSync(join(REPO, 'plugins', 'log-attacker'), join(pluginsDir, 'log-attacker'), {
      recursive: true,
      filter: (f) => !f.includes('/test'),
    });
    const logDir = join(dir, 'log');
    mkdirSync(logDir, { mode: 0o755 });
    const d = await startFor(
      s,
      (dd) => ({
        ...nfqConfig(dd, { queue: 17, privileges: { user: 'nobody' } }),
        plugins: { dirs: [pluginsDir], files: { dirs: { 'log-attacker': logDir } } },
      }),
      8192,
      { dir },
    );
    const ready = d.logs.find((l) => l.msg.startsWith('honeytrap ready'));
    expect(ready?.user).toBe('nobody');
    // The root parent re-runs the command as nobody (setpriv) and only waits:
    // the daemon is the child that logged "honeytrap starting".
    const starting = d.logs.find((l) => l.msg === 'honeytrap starting');
    const daemonPid = Number(starting?.pid);
    expect(daemonPid).not.toBe(d.pid);
    const { uid } = await ids(daemonPid);
    expect(uid).toEqual([nobody, nobody, nobody, nobody]);
    // Exactly CAP_NET_BIND_SERVICE (10) and CAP_NET_ADMIN (12), nothing else.
    const capEff = (await readFile(`/proc/${daemonPid}/status`, 'utf8')).match(
      /^CapEff:\s*([0-9a-f]+)$/m,
    )?.[1];
    expect(BigInt(`0x${capEff ?? '0'}`)).toBe((1n << 10n) | (1n << 12n));

    const r = await ncat(s.net, 21, 'USER anonymous\r\n', { timeoutMs: 5_000 });
    // A verdict needs CAP_NET_ADMIN in the sending process: after the drop the
    // kernel refuses it and the SYN stays queued, although /status counts it accepted.
    const stuck = (await s.net.queueRows()).reduce((n, q) => n + q.waiting, 0);
    const st0 = await d.status();
    expect(
      stuck,
      `SYNs left in the queue after the privilege drop (status: ${st0.nfqueue.accepted} accepted)`,
    ).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.equals(readFileSync(join(BUILTIN_TEMPLATES, '21_tcp')))).toBe(true);
    await d.waitForAttacks(1);
    const attacks = await listAttacks(d.storeDir, ['--port', '21']);
    expect(attacks).toHaveLength(1);
    expect(b64(attacks[0]!.received.data).toString()).toBe('USER anonymous\r\n');
    const st = await d.status();
    expect(st.attacksFailed).toBe(0);
    expect(st.nfqueue.table.failed).toBe(0);
    // The plugin, running as nobody, wrote the attack's attacker.log line.
    const logFile = join(logDir, 'attacker.log');
    for (let i = 0; i < 100 && !existsSync(logFile); i++) await sleep(100);
    expect(readFileSync(logFile, 'utf8')).toMatch(
      / tcp \S+ -> \S+:21 [0-9a-f]{32} [0-9a-f]{128} \(16 bytes\)\n$/,
    );
    expect(statSync(logFile).uid).toBe(nobody);
    expect(d.errorLogs()).toEqual([]);
  });

  test('SIGTERM: the daemon logs "honeytrap stopped" and the process exits 0', async () => {
    const s = env();
    const d = s.daemon ?? (await startFor(s, (dd) => nfqConfig(dd, { queue: 18 })));
    s.daemon = undefined;
    d.child.kill('SIGTERM');
    await d.waitForLog((l) => l.msg === 'honeytrap stopped', 15_000, '"honeytrap stopped"');
    const exit = await Promise.race([d.exited, sleep(5_000).then(() => undefined)]);
    const alive = exit === undefined;
    if (alive) await d.stop('SIGTERM', 10_000); // the second signal ends it
    expect(
      alive ? 'still running 5 s after "honeytrap stopped"' : exit,
      'the nfqueue binding keeps the event loop alive after Daemon.stop()',
    ).toEqual({ code: 0, signal: null });
  });
});
