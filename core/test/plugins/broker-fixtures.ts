// Plugins and attacks for the network broker's tests: a real plugin folder
// whose manifest asks for `network`, read back with the host's readManifest
// (so every default is filled in as the daemon does it).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Attack } from '../../src/generated/attack.js';
import type { LoadedPlugin } from '../../src/plugins/engine.js';
import { readManifest } from '../../src/plugins/manifest.js';

export interface NetworkGrant {
  egress: 'attacker' | 'allow-list';
  hosts?: string[];
  schemes?: string[];
}

/** A worker plugin named `name` with the manifest's network capability `network`. */
export async function networkPlugin(
  network: NetworkGrant,
  name = 'net-test',
): Promise<LoadedPlugin> {
  const dir = join(await mkdtemp(join(tmpdir(), 'ht-broker-')), name);
  await mkdir(dir);
  await writeFile(
    join(dir, 'plugin.json'),
    JSON.stringify({
      manifestVersion: 1,
      name,
      version: '1.0.0',
      hostApi: '^1.1.0',
      engine: 'worker',
      entry: 'index.mjs',
      consumes: { attacks: {} },
      capabilities: { findings: true, network },
    }),
  );
  await writeFile(join(dir, 'index.mjs'), 'export default { analyze() { return {}; } };\n');
  const r = readManifest(dir);
  if (!r.ok) throw new Error(`test manifest refused: ${r.errors.join('; ')}`);
  return r.plugin;
}

/** An attack from `address`. */
export function attackFrom(address: string): Attack {
  return {
    schemaVersion: 1,
    id: '01JTESTBROKER0000000000000',
    sensor: 'test',
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:01.000Z',
    proto: 'tcp',
    local: { address: '192.0.2.1', port: 80 },
    remote: { address, port: 40000 },
    mode: 'normal',
    endReason: 'closed',
    received: { length: 0, data: '', truncated: false },
    sent: { length: 0, data: '', truncated: false },
    chunks: [],
    plugins: {},
  };
}
