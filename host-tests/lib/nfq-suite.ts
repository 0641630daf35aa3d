// The frame of an nfqueue test file: its own namespace pair, its daemons, and
// the checks after every test (no packet left in the queue without a verdict,
// listener count under the cap). A setup failure (not root, nfqueue binding
// missing, a tool not installed) makes every test of the file fail with its
// message instead of being skipped.
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { cleanup } from './daemon.js';
import { NetnsPair, requireRoot } from './netns.js';
import { NfqDaemon, stopAllNfqDaemons, type NfqStartOptions } from './nfq-daemon.js';
import { requireTools } from './ns-clients.js';

export interface NfqSuite {
  readonly net: NetnsPair;
  /** The daemon the after-each checks look at (the one running now). */
  daemon: NfqDaemon | undefined;
  /** portTable.maxListeners of that daemon. */
  cap: number;
}

/**
 * Registers the hooks and returns a getter for the suite. `setup` runs once
 * after the namespaces exist (start the daemon there, or not).
 */
export function nfqSuite(
  tag: string,
  tools: string[],
  setup: (s: NfqSuite) => Promise<void> = () => Promise.resolve(),
): () => NfqSuite {
  let suite: NfqSuite | undefined;
  let failure: unknown;

  beforeAll(async () => {
    try {
      requireRoot(`the nfqueue host tests (${tag})`);
      requireTools(['ip', 'iptables', 'ip6tables', ...tools]);
      suite = { net: NetnsPair.create(tag), daemon: undefined, cap: 8192 };
      await setup(suite);
    } catch (err) {
      failure = err;
    }
  });

  afterEach(async () => {
    if (!suite) return;
    await suite.net.expectQueueDrained();
    const d = suite.daemon;
    if (d && !d.exit) {
      const s = await d.status();
      expect(s.nfqueue.table.listeners, 'listeners after the test').toBeLessThanOrEqual(suite.cap);
    }
  });

  afterAll(async () => {
    try {
      await stopAllNfqDaemons();
    } finally {
      suite?.net.teardown();
      await cleanup();
    }
  });

  return () => {
    if (failure !== undefined) {
      const why = failure instanceof Error ? failure.message : inspect(failure);
      throw new Error(`nfqueue test setup failed: ${why}`, { cause: failure });
    }
    if (!suite) throw new Error('nfqueue test setup did not run');
    return suite;
  };
}

/** Starts a daemon for the suite (rules applied) and makes it the one the checks look at. */
export async function startFor(
  s: NfqSuite,
  config: (dir: string) => Record<string, unknown>,
  cap = 8192,
  opts: NfqStartOptions = {},
): Promise<NfqDaemon> {
  const d = await NfqDaemon.start(s.net, config, opts);
  s.daemon = d;
  s.cap = cap;
  return d;
}

/** Stops the suite's daemon (gracefully, see NfqDaemon.shutdown) and removes its rules. */
export async function stopFor(s: NfqSuite): Promise<void> {
  const d = s.daemon;
  if (!d) return;
  s.daemon = undefined;
  await d.shutdown();
  await d.removeRules();
}
