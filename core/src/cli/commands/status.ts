// honeytrap status: what a running daemon is doing (its control socket's /status).
import { daemonStatus } from '../../control/client.js';
import { HoneytrapError } from '../../errors.js';
import { resolveStore, type StoreOptions } from '../context.js';

export async function statusCommand(opts: StoreOptions & { json?: boolean }): Promise<void> {
  const { socket } = await resolveStore(opts);
  const s = await daemonStatus(socket);
  if (!s) throw new HoneytrapError('HT_CONTROL', `no daemon answers on ${socket}`);
  if (opts.json) {
    process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    return;
  }
  const lines = [
    `sensor        ${s.sensor} (since ${s.startedAt})`,
    `capture       ${s.capture}`,
    `sessions      ${s.activeSessions} active`,
    `attacks       ${s.attacksStored} stored, ${s.attacksFailed} failed, ${s.pendingWrites} pending`,
    `splices       ${s.splices.mirrors} mirror, ${s.splices.proxies} proxy`,
    `udp replies   ${s.udpRepliesSuppressed} suppressed or cut`,
  ];
  if (s.fdLimit) lines.push(`fd limit      ${s.fdLimit.soft}`);
  if (s.nfqueue) {
    const q = s.nfqueue;
    lines.push(
      `nfqueue       ${q.packets} packets: ${q.accepted} accepted, ${q.dropped} dropped, ${q.unparsed} unparsed, ${q.late} late, ${q.errors} errors`,
      `port table    ${q.table.listeners} listeners; ${q.table.opened} opened, ${q.table.evicted} evicted, ${q.table.idleClosed} idle-closed, ${q.table.throttled} throttled, ${q.table.failed} failed`,
    );
  }
  const pl = s.plugins;
  lines.push(
    `plugins       ${pl.ready}/${pl.plugins} ready; ${pl.processed} attacks processed, ${pl.shed} shed, ${pl.backlog} waiting; ${pl.reports} reports`,
  );
  for (const [name, o] of Object.entries(pl.outbox))
    lines.push(
      `  outbox ${name}: ${o.queued} queued, ${o.delivered} delivered, ${o.failures} failed attempts, ${o.dropped} dropped${o.retryAt ? `; next retry ${o.retryAt}` : ''}`,
    );
  const failed = s.ports.filter((p) => p.error);
  if (s.capture === 'listen')
    lines.push(`ports         ${s.ports.length - failed.length} bound, ${failed.length} failed`);
  for (const p of failed) lines.push(`  ${p.error}`);
  process.stdout.write(lines.join('\n') + '\n');
}
