// The frame of an nfqueue test file: its own namespace pair, its daemons (the
// nfqueue capture, inside the honeypot namespace, rules applied with the
// project's own `honeytrap iptables`), and the checks after every test (no
// packet left in the queue without a verdict, listener count under the cap).
// A setup failure (not root, nfqueue binding missing, a tool not installed)
// makes every test of the file fail with its message instead of being skipped.
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { runProgram, type RunResult } from './cli.js';
import {
  BIN,
  cleanup,
  HoneytrapDaemon,
  stopAll,
  writeConfig,
  type ConfigFor,
  type DaemonStats,
} from './daemon.js';
import { NetnsPair, requireRoot } from './netns.js';
import { requireTools } from './ns-clients.js';

/** What GET /status answers with the nfqueue capture. */
export type NfqStatus = DaemonStats & { nfqueue: NonNullable<DaemonStats['nfqueue']> };

export type NfqDaemon = HoneytrapDaemon<NfqStatus>;

function nfqStatus(s: DaemonStats): NfqStatus {
  if (!s.nfqueue) throw new Error(`/status has no nfqueue section: ${JSON.stringify(s)}`);
  return s as NfqStatus;
}

export interface NfqOptions {
  queue: number;
  nfqueue?: Record<string, unknown>;
  portTable?: Record<string, unknown>;
  udp?: Record<string, unknown>;
  defaults?: Record<string, unknown>;
  ports?: Record<string, unknown>[];
  privileges?: { user?: string; group?: string };
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * HT_TEST_NFQ_READER=thread runs every nfqueue host test with the native
 * reader thread (capture.nfqueue.reader); unset: the config's default.
 */
export function readerFromEnv(): { reader?: 'loop' | 'thread' } {
  const r = process.env.HT_TEST_NFQ_READER;
  if (r === undefined || r === '') return {};
  if (r !== 'loop' && r !== 'thread') throw new Error(`HT_TEST_NFQ_READER=${r}: loop or thread`);
  return { reader: r };
}

/** A full config with the nfqueue capture, JSON logs and the store in `dir`. */
export function nfqConfig(dir: string, o: NfqOptions): Record<string, unknown> {
  return {
    sensor: 'host-test-nfq',
    capture: {
      type: 'nfqueue',
      nfqueue: { queue: o.queue, ...readerFromEnv(), ...o.nfqueue },
      ...(o.portTable ? { portTable: o.portTable } : {}),
    },
    defaults: { mode: 'normal', ...o.defaults },
    ports: o.ports ?? [],
    ...(o.udp ? { udp: o.udp } : {}),
    templates: { dirs: [], builtin: true },
    store: { path: join(dir, 'store') },
    log: { level: o.logLevel ?? 'info', format: 'json' },
    ...(o.privileges ? { privileges: o.privileges } : {}),
  };
}

const TEMP_PREFIX = 'honeytrap-nfq-';

/** Writes an nfqueue config to `<dir>/config.json` (a fresh temp dir unless given). */
export function writeNfqConfig(
  o: NfqOptions,
  dir?: string,
): Promise<{ dir: string; configPath: string; storeDir: string }> {
  return writeConfig((d) => nfqConfig(d, o), dir, TEMP_PREFIX);
}

/** The environment without SSH_CONNECTION: the rules go to a test namespace, not to our SSH session's. */
export function envWithoutSsh(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SSH_CONNECTION;
  return env;
}

/** `honeytrap iptables ARGS --config F` inside the honeypot namespace. */
export function iptablesCommand(
  net: NetnsPair,
  configPath: string,
  args: string[],
  env: NodeJS.ProcessEnv = envWithoutSsh(),
): Promise<RunResult> {
  const [bin, ...rest] = net.wrap(net.honeypot, [
    process.execPath,
    BIN,
    'iptables',
    ...args,
    '--config',
    configPath,
  ]);
  return runProgram(bin!, rest, { env, timeoutMs: 30_000 });
}

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
      await stopAll((d) => d.shutdown());
    } finally {
      await suite?.net.teardown();
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

async function rules(s: NfqSuite, d: NfqDaemon, action: '--apply' | '--remove'): Promise<void> {
  const r = await iptablesCommand(s.net, d.configPath, [action]);
  if (r.code !== 0)
    throw new Error(`honeytrap iptables ${action} exited ${r.code}: ${r.stderr}${r.stdout}`);
}

/**
 * Starts `honeytrap run` inside the honeypot namespace, waits for "Trapping
 * attacks via NFQ" and "honeytrap ready", applies the rules with the project's
 * own command and makes it the daemon the checks look at.
 */
export async function startFor(
  s: NfqSuite,
  config: ConfigFor,
  cap = 8192,
  opts: { dir?: string; readyTimeoutMs?: number } = {},
): Promise<NfqDaemon> {
  const d = await HoneytrapDaemon.start(config, {
    dir: opts.dir,
    tempPrefix: TEMP_PREFIX,
    netns: { net: s.net, node: s.net.honeypot },
    readyLines: ['Trapping attacks via NFQ', 'honeytrap ready'],
    readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
    attacksTimeoutMs: 20_000,
    checkStatus: nfqStatus,
  });
  // The reader the environment asked for is the one running.
  const want = readerFromEnv().reader;
  if (want === 'thread') {
    const line = d.logs.find((l) => l.msg === 'Trapping attacks via NFQ');
    if (line?.reader !== 'thread')
      throw new Error(`HT_TEST_NFQ_READER=thread but the daemon logged ${JSON.stringify(line)}`);
  }
  await rules(s, d, '--apply');
  s.daemon = d;
  s.cap = cap;
  return d;
}

/** Stops the suite's daemon (gracefully, see HoneytrapDaemon.shutdown) and removes its rules. */
export async function stopFor(s: NfqSuite): Promise<void> {
  const d = s.daemon;
  if (!d) return;
  s.daemon = undefined;
  await d.shutdown();
  await rules(s, d, '--remove');
}
