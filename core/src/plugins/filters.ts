// Which plugins a finished attack, an artifact or a report goes to (the
// manifest's consumes). A plugin that consumes only reports gets neither
// attacks nor artifacts.
import type { Attack } from '../generated/attack.js';
import type { ResolvedManifest } from '../generated/plugin-manifest-resolved.js';
import { parsePortSpec } from '../config/ports.js';

export function wantsAttack(m: ResolvedManifest, a: Attack): boolean {
  const f = m.consumes.attacks;
  if (!f) return false;
  if (f.protocols && !f.protocols.includes(a.proto)) return false;
  if (a.received.length < (f.minBytes ?? 1)) return false;
  if (f.ports) {
    const port = a.local.port;
    const hit = f.ports.some((spec) => {
      const r = parsePortSpec(spec);
      return !('error' in r) && port >= r.from && port <= r.to;
    });
    if (!hit) return false;
  }
  return true;
}

export function wantsArtifact(m: ResolvedManifest, contentType: string, size: number): boolean {
  const f = m.consumes.artifacts;
  if (!f) return false;
  if (size < (f.minBytes ?? 1)) return false;
  if (!f.contentTypes) return true;
  return f.contentTypes.some((t) =>
    t.endsWith('/*') ? contentType.startsWith(t.slice(0, -1)) : t === contentType,
  );
}

/** An output plugin: it gets a report of every attack once the analysis is done (worker engine only). */
export function wantsReports(m: ResolvedManifest): boolean {
  return m.consumes.reports !== undefined && m.engine === 'worker';
}
