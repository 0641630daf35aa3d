// save-file: every attack string (what the attacker sent) in a file of its
// own, named as honeytrap's SaveFile module names them
// (github.com/tillmannw/honeytrap, src/modules/htm_SaveFile.c), and every file
// the download plugins brought, named by its MD5 and the name in its URL:
//
//   attacks/from_port_80-tcp_01M8A1R87GW009PF5K1YK9T9R0_2026-11-25
//   downloads/6f5902ac237024bdd0c176cb93063dc4-mirai.x86
//
// An output plugin: it consumes reports (with the artifacts' bytes) and
// writes through ctx.files into its own folder. This file is the plugin as
// shipped: it must stand alone (no imports but allowed node: builtins). The
// named exports are for its tests.
import { createHash } from 'node:crypto';

/** @typedef {import('@honeytrap/sdk').WorkerPlugin} WorkerPlugin */
/** @typedef {import('@honeytrap/sdk').Attack} Attack */
/** @typedef {import('@honeytrap/sdk').Finding} Finding */

/**
 * SaveFile's name for an attack string: from_port_<port>-<proto>_<pid>_<date>.
 * honeytrap handled each connection in a process of its own, so the pid told
 * attacks apart; the attack id does that here (and sorts by time). The date is
 * the attack's start day in UTC (SaveFile used the local date when it saved).
 * @param {Attack} attack
 */
export function attackFileName(attack) {
  const day = new Date(attack.startedAt).toISOString().slice(0, 10);
  return `from_port_${attack.local.port}-${attack.proto}_${attack.id}_${day}`;
}

/**
 * A name from the attacker's URL made safe for a file name: letters, digits,
 * ".", "_" and "-" only (anything else becomes "_"), no leading dot, at most
 * 128 characters. SaveFile used the name as given, which let "../" climb out.
 * @param {string} name
 */
export function safeName(name) {
  return name
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 128);
}

/**
 * SaveFile's name for a downloaded file: <md5>-<file name>, or <md5> when the
 * URL names no file.
 * @param {string} url
 * @param {Buffer} bytes
 */
export function downloadFileName(url, bytes) {
  const md5 = createHash('md5').update(bytes).digest('hex');
  let file = '';
  try {
    const path = new URL(url).pathname;
    file = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
  } catch {
    // not a URL we can read, or bad percent-encoding: the MD5 alone
  }
  const safe = safeName(file);
  return safe ? `${md5}-${safe}` : md5;
}

/**
 * Writes a file that must not be overwritten (SaveFile's O_EXCL). One that
 * is there already holds the same bytes: an attack's name carries its id, a
 * download's its MD5. So it is left as it is.
 * @param {import('@honeytrap/sdk').PluginContext} ctx
 * @param {string} name
 * @param {Buffer} bytes
 */
async function writeOnce(ctx, name, bytes) {
  try {
    await ctx.files.write(name, bytes, { exclusive: true });
  } catch (err) {
    if (err?.code !== 'EEXIST') throw err;
  }
}

/**
 * @type {WorkerPlugin<{ attacksDir: string, downloadsDir: string, downloads: boolean }>}
 */
export default {
  async analyze(input, ctx) {
    if (input.kind !== 'report') return;
    const { attack } = input;
    const { attacksDir, downloadsDir } = ctx.config;
    /** @type {Finding[]} */
    const findings = [];
    const received = Buffer.from(attack.received.data, 'base64');
    // SaveFile writes nothing for an attack that sent no data.
    if (received.length > 0) {
      const name = `${attacksDir}/${attackFileName(attack)}`;
      await writeOnce(ctx, name, received);
      findings.push({ type: 'x-saved-file', value: name, meta: { bytes: received.length } });
    }
    if (!ctx.config.downloads) return { findings };
    // Files the download plugins brought: their `download` findings with
    // status ok name the artifact (meta.sha256) whose bytes the report carries.
    const bytesOf = new Map((input.artifacts ?? []).map((a) => [a.sha256, a.data]));
    const saved = new Set();
    for (const record of Object.values(input.records ?? {})) {
      for (const f of record.findings) {
        const ok = f.type === 'download' && f.meta?.status === 'ok';
        const data = ok ? bytesOf.get(String(f.meta?.sha256)) : undefined;
        if (data === undefined) continue;
        const bytes = Buffer.from(data, 'base64');
        const name = `${downloadsDir}/${downloadFileName(f.value, bytes)}`;
        if (saved.has(name)) continue;
        saved.add(name);
        await writeOnce(ctx, name, bytes);
        findings.push({ type: 'x-saved-file', value: name, meta: { url: f.value } });
      }
    }
    return { findings };
  },
};
