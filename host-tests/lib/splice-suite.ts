// The frame of a splice test file: its namespaces, peer servers and daemons
// (the listen capture, inside a namespace), set up once and always torn down
// (daemons, background programs, namespaces, temp folders), even when the
// setup failed half way. A setup failure (not root, a tool not installed, a
// server that does not start) makes every test of the file fail with its
// message instead of being skipped.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { cleanup, HoneytrapDaemon, stopAll } from './daemon.js';
import { Netns, requireRoot } from './netns.js';
import { requireTools } from './ns-clients.js';

export function spliceSuite<T extends object>(
  tag: string,
  nodes: string[],
  tools: string[],
  setup: (net: Netns) => Promise<T>,
): () => T & { net: Netns } {
  let net: Netns | undefined;
  let env: (T & { net: Netns }) | undefined;
  let failure: unknown;

  beforeAll(async () => {
    try {
      requireTools(['ip', 'ss', ...tools]);
      requireRoot('the splice host tests');
      net = Netns.create(tag, nodes);
      env = { ...(await setup(net)), net };
    } catch (err) {
      failure = err;
    }
  });

  afterAll(async () => {
    try {
      await stopAll((d) => d.stop('SIGTERM', 10_000));
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

export interface SplicePort {
  port: number | string;
  proto?: 'tcp' | 'udp';
  mode?: 'normal' | 'ignore' | 'mirror' | 'proxy';
  template?: string;
  readLimit?: number;
  idleTimeoutMs?: number;
  sessionTimeoutMs?: number;
  proxy?: { target: string; routes?: { from: string; target: string }[] };
}

export interface SpliceDaemonOptions {
  /** Addresses the listen capture binds (the namespace's own addresses). */
  addresses: string[];
  ports: SplicePort[];
  sensor?: string;
  defaults?: Record<string, unknown>;
  splice?: {
    connectTimeoutMs?: number;
    mirrorPerSource?: number;
    mirrorTotal?: number;
    proxyTotal?: number;
  };
  udp?: Record<string, unknown>;
  /** Template files (name -> content) written to a folder searched before the built-in one. */
  templates?: Record<string, string | Buffer>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** UDP reply limits high enough that they never cut a test's replies. */
export const OPEN_UDP_LIMITS = {
  maxReplyBytes: 65507,
  amplification: 100,
  repliesPerSecond: 100_000,
  perSourcePerMinute: 100_000,
};

/**
 * Starts a daemon with the listen capture (mirror/proxy ports, splice and UDP
 * limits) inside `node`, waits for "honeytrap ready" and fails unless every
 * port is bound.
 */
export function startSpliceDaemon(
  net: Netns,
  node: string,
  o: SpliceDaemonOptions,
): Promise<HoneytrapDaemon> {
  const config = async (dir: string) => {
    let templateDirs: string[] = [];
    if (o.templates) {
      const tdir = join(dir, 'templates');
      await mkdir(tdir);
      for (const [name, content] of Object.entries(o.templates))
        await writeFile(join(tdir, name), content);
      templateDirs = [tdir];
    }
    return {
      sensor: o.sensor ?? `hts-${node}`,
      capture: { type: 'listen', addresses: o.addresses },
      defaults: { mode: 'normal', ...o.defaults },
      ports: o.ports,
      ...(o.splice ? { splice: o.splice } : {}),
      ...(o.udp ? { udp: o.udp } : {}),
      templates: { dirs: templateDirs, builtin: true },
      store: { path: join(dir, 'store') },
      log: { level: o.logLevel ?? 'info', format: 'json' },
    };
  };
  return HoneytrapDaemon.start(config, {
    tempPrefix: 'honeytrap-splice-',
    netns: { net, node },
    readyTimeoutMs: 20_000,
    requireBound: true,
  });
}
