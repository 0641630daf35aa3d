// Steps of the host tests that run shipped plugins in a daemon: install
// plugin folders as an operator does, wait until the daemon has them ready,
// attack it with a real client (ncat) and find the attack it stored.
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { honeytrap, runProgram } from './cli.js';
import { waitUntil } from './clients.js';
import { REPO, type HoneytrapDaemon } from './daemon.js';
import { LOOPBACK, freePort } from './ports.js';

/**
 * Copies plugins/<name> for each name into `pluginsDir` (made if needed) as
 * an operator installs them: without tests, sources and node_modules (a
 * plugin built from src/ must be built first).
 */
export async function installPlugins(pluginsDir: string, names: string[]): Promise<void> {
  await mkdir(pluginsDir, { recursive: true });
  for (const name of names)
    await cp(join(REPO, 'plugins', name), join(pluginsDir, name), {
      recursive: true,
      filter: (src) => !/[/\\](test|src|node_modules)$/.test(src),
    });
}

/** Waits until `honeytrap plugins list` shows every one of `names` ready. */
export async function waitPluginsReady(
  daemon: HoneytrapDaemon,
  names: string[],
  timeoutMs = 20_000,
): Promise<void> {
  let last = '';
  await waitUntil(
    async () => {
      const r = await honeytrap(['plugins', 'list', '--json', '--data-dir', daemon.storeDir]);
      last = r.stdout;
      const list = JSON.parse(r.stdout) as { name: string; state: string }[];
      return names.every((n) => list.some((p) => p.name === n && p.state === 'ready'));
    },
    timeoutMs,
    `${names.join(', ')} ready (last: ${last})`,
  );
}

/**
 * `ncat --send-only` to the daemon's `port` on loopback from a source port
 * chosen here, so the attack can be told apart; returns the id of the attack
 * the daemon stored for it.
 */
export async function ncatAttack(
  daemon: HoneytrapDaemon,
  port: number,
  data: Buffer | string,
): Promise<string> {
  const sourcePort = await freePort();
  const r = await runProgram(
    'ncat',
    ['-p', String(sourcePort), '--send-only', LOOPBACK, String(port)],
    { input: data },
  );
  if (r.code !== 0) throw new Error(`ncat exited ${r.code}: ${r.stderr}`);
  const line = await daemon.waitForLog(
    (l) => l.msg === 'attack' && l.remote === `${LOOPBACK}:${sourcePort}`,
    15_000,
    `the attack from port ${sourcePort}`,
  );
  return String(line.attack);
}
