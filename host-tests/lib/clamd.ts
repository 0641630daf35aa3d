// A real clamd for host tests. The starter is the clamav plugin's own test
// helper (plugins/clamav/test/clamd.mjs: config, socket and signature database
// in a temp folder, clamd in the foreground), so the plugin's tests and the
// host tests start clamd the same way; this adds cleanup of every instance.
import {
  startClamd as start,
  type Clamd,
  type ClamdOptions,
} from '../../plugins/clamav/test/clamd.mjs';
import { onExit } from './on-exit.js';

export { clamdRequest, reported, type Clamd } from '../../plugins/clamav/test/clamd.mjs';

const started = new Set<Clamd>();

// Last resort if the test process dies without its hooks: no clamd outlives it.
onExit(() => {
  for (const c of started) c.child?.kill('SIGKILL');
});

/** A clamd with only the given signatures, answering on a unix socket and a loopback TCP port. */
export async function startClamd(opts: ClamdOptions): Promise<Clamd> {
  const clamd = await start(opts);
  started.add(clamd);
  return clamd;
}

/** Stops every clamd this process started and deletes their folders (call it in afterAll). */
export async function removeAllClamd(): Promise<void> {
  await Promise.all([...started].map((c) => c.remove()));
  started.clear();
}
