// Last-resort cleanup when the test process exits (a test killed before its
// teardown). Vitest runs every host test file in one process and evaluates
// these libraries again for each file, so the cleanups are kept on
// globalThis behind a single 'exit' listener instead of one listener per
// library per file.
type Cleanup = () => void;

const KEY = Symbol.for('honeytrap.host-tests.on-exit');
const g = globalThis as { [KEY]?: Set<Cleanup> };

/** Runs `fn` when the process exits (synchronously: only sync work runs then). */
export function onExit(fn: Cleanup): void {
  if (!g[KEY]) {
    const cleanups = (g[KEY] = new Set());
    process.once('exit', () => {
      for (const f of cleanups) f();
    });
  }
  g[KEY].add(fn);
}
