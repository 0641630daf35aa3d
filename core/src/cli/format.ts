// Human-readable views of attack strings for the honeytrap command.
import type { Attack } from '../generated/attack.js';
import type { PluginRecord } from '../generated/plugin-record.js';
import { hexdump } from './hexdump.js';

function endpoint(e: { address: string; port: number }): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function preview(a: Attack): string {
  const bytes = Buffer.from(a.received.data, 'base64').subarray(0, 40);
  return JSON.stringify(bytes.toString('latin1')).slice(1, -1);
}

export function attackTable(attacks: Attack[]): string {
  if (attacks.length === 0) return 'no attacks';
  const rows = attacks.map((a) => [
    a.id,
    a.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    `${a.local.port}/${a.proto}`,
    endpoint(a.remote),
    a.mode,
    `${a.received.length}${a.received.truncated ? '+' : ''}`,
    String(a.sent.length),
    a.endReason,
    preview(a),
  ]);
  const head = ['ID', 'STARTED', 'PORT', 'SOURCE', 'MODE', 'IN', 'OUT', 'END', 'DATA'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export function attackDetail(a: Attack): string {
  const dir = (label: string, p: Attack['received']) =>
    `${label}: ${p.length} bytes${p.truncated ? ` (truncated: ${Buffer.from(p.data, 'base64').length} kept)` : ''}\n` +
    hexdump(Buffer.from(p.data, 'base64'), '  ');
  const ms = Date.parse(a.endedAt) - Date.parse(a.startedAt);
  const lines = [
    `attack    ${a.id}`,
    `sensor    ${a.sensor}`,
    `time      ${a.startedAt} -> ${a.endedAt} (${ms} ms)`,
    `proto     ${a.proto}`,
    `local     ${endpoint(a.local)}`,
    `remote    ${endpoint(a.remote)}`,
    `mode      ${a.mode}${a.template ? ` (template ${a.template})` : ''}`,
    ...(a.peer ? [`peer      ${endpoint(a.peer)} (${a.peer.role})`] : []),
    ...(a.fallback
      ? [`fallback  ${a.fallback.from} failed, ran in normal mode: ${a.fallback.reason}`]
      : []),
    `end       ${a.endReason}${a.error ? ` (${a.error})` : ''}`,
    `chunks    ${a.chunks.length}${a.chunksTruncated ? ' (more not timed)' : ''}`,
    '',
    dir(a.peer ? 'received (attacker -> peer)' : 'received', a.received),
    '',
    dir(a.peer ? `sent (peer -> attacker)` : 'sent', a.sent),
  ];
  const plugins = Object.entries(a.plugins) as [string, PluginRecord][];
  if (plugins.length) {
    lines.push('', 'plugins');
    for (const [key, r] of plugins) {
      const on = r.input ? ` on artifact ${r.input.slice(0, 12)}` : '';
      lines.push(`  ${key} ${r.version}${on}: ${r.status} (${r.durationMs} ms)`);
      if (r.error) lines.push(`    error ${r.error.code}: ${r.error.message}`);
      for (const f of r.findings)
        lines.push(
          `    ${f.type}${f.offset !== undefined ? ` @${f.offset}` : ''}: ${f.value.length > 200 ? f.value.slice(0, 200) + '…' : f.value}`,
        );
      for (const art of r.artifacts)
        lines.push(
          `    artifact ${art.sha256} ${art.contentType} ${art.size} bytes${art.name ? ` (${art.name})` : ''}`,
        );
    }
  }
  return lines.join('\n');
}
