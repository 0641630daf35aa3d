// The frame of a splice test file: its namespaces, peer servers and daemons,
// set up once and always torn down (daemons, background programs,
// namespaces, temp folders), even when the setup failed half way. A setup
// failure (not root, a tool not installed, a server that does not start)
// makes every test of the file fail with its message instead of being skipped.
import { afterAll, beforeAll } from 'vitest';
import { cleanup } from './daemon.js';
import { HtsNet } from './hts-net.js';
import { stopAllNsDaemons } from './ns-daemon.js';
import { requireTools } from './ns-clients.js';

export function spliceSuite<T extends object>(
  tag: string,
  nodes: string[],
  tools: string[],
  setup: (net: HtsNet) => Promise<T>,
): () => T & { net: HtsNet } {
  let net: HtsNet | undefined;
  let env: (T & { net: HtsNet }) | undefined;
  let failure: unknown;

  beforeAll(async () => {
    try {
      requireTools(['ip', 'ss', ...tools]);
      net = HtsNet.create(tag, nodes);
      env = { ...(await setup(net)), net };
    } catch (err) {
      failure = err;
    }
  });

  afterAll(async () => {
    try {
      await stopAllNsDaemons();
    } finally {
      await net?.teardown();
      await cleanup();
    }
  });

  return () => {
    if (failure !== undefined) {
      const why = failure instanceof Error ? failure.message : JSON.stringify(failure);
      throw new Error(`splice test setup failed: ${why}`, { cause: failure });
    }
    if (!env) throw new Error('splice test setup did not run');
    return env;
  };
}
