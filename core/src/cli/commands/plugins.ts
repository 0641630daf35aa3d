// honeytrap plugins list|validate|enable|disable.
import { getJson, daemonStatus } from '../../control/client.js';
import { HoneytrapError } from '../../errors.js';
import { readManifest } from '../../plugins/manifest.js';
import type { PluginView } from '../../plugins/registry.js';
import { resolveStore, type StoreOptions } from '../context.js';

async function daemonSocket(opts: StoreOptions): Promise<string> {
  const { socket } = await resolveStore(opts);
  if (!(await daemonStatus(socket)))
    throw new HoneytrapError(
      'HT_CONTROL',
      `no daemon answers on ${socket} (plugins are managed by a running daemon)`,
    );
  return socket;
}

function table(plugins: PluginView[]): string {
  if (plugins.length === 0)
    return 'no plugins (put plugin folders in a folder listed in plugins.dirs)';
  const rows = plugins.map((p) => [
    p.name,
    p.state,
    p.version ?? '-',
    p.engine ?? '-',
    capabilities(p),
    `${p.counters.runs} runs, ${p.counters.ok} ok, ${p.counters.failed} failed, ${p.counters.timeouts} timeouts`,
    p.reason ?? p.lastError ?? '',
  ]);
  const head = [
    'NAME',
    'STATE',
    'VERSION',
    'ENGINE',
    'CAPABILITIES',
    'COUNTERS',
    'LAST ERROR / REASON',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

function capabilities(p: PluginView): string {
  const c = p.capabilities;
  if (!c) return '-';
  const out: string[] = [];
  if (c.findings) out.push('findings');
  if (c.artifacts) out.push('artifacts');
  if (c.network) {
    const to = c.network.egress === 'attacker' ? ['attacker'] : (c.network.hosts ?? []);
    out.push(
      `network(${(c.network.schemes ?? []).join('|')}):${to.join('|') || 'operator-granted'}`,
    );
  }
  if (c.files) out.push('files');
  if (c.database) out.push(`database:${c.database.engine}`);
  return out.join(',') || 'none';
}

export async function pluginsListCommand(opts: StoreOptions & { json?: boolean }): Promise<void> {
  const r = await getJson(await daemonSocket(opts), '/plugins');
  const plugins = r.body as PluginView[];
  process.stdout.write((opts.json ? JSON.stringify(plugins, null, 2) : table(plugins)) + '\n');
}

export function pluginsValidateCommand(dir: string): void {
  const r = readManifest(dir);
  if (!r.ok)
    throw new HoneytrapError('HT_PLUGIN_MANIFEST', `plugin ${r.name} (${dir}) is not valid`, {
      plugin: r.name,
      details: r.errors,
    });
  const m = r.plugin.manifest;
  process.stdout.write(`plugin ${m.name} ${m.version} (${m.engine}, entry ${m.entry}) is valid\n`);
}

export async function pluginsToggleCommand(
  verb: 'enable' | 'disable',
  name: string,
  opts: StoreOptions,
): Promise<void> {
  const r = await getJson(
    await daemonSocket(opts),
    `/plugins/${encodeURIComponent(name)}/${verb}`,
    'POST',
  );
  if (r.status === 404) throw new HoneytrapError('HT_NOT_FOUND', `no plugin ${name} is loaded`);
  if (r.status !== 200)
    throw new HoneytrapError(
      'HT_CONTROL',
      `daemon answered ${r.status}: ${JSON.stringify(r.body)}`,
    );
  const v = r.body as PluginView;
  process.stdout.write(`plugin ${v.name}: ${v.state}${v.reason ? ` (${v.reason})` : ''}\n`);
}
