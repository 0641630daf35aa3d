// The host-owned code that runs inside every worker of the worker engine.
// piscina imports this file when a worker starts; it locks the thread down
// before any plugin code exists, then loads the plugin with its own module
// linker (vm.SourceTextModule) so that every import the plugin makes, static
// or dynamic, is decided here: files inside the plugin folder and a short list
// of harmless builtins, nothing else. The Node permission model (set by the
// engine through execArgv) is the layer under this one: it still stops file
// access outside the plugin folder, child processes, workers, addons and the
// inspector if this layer is ever bypassed. See docs/plugin-isolation.md.
//
// This file must not import host code at run time: the worker may read only
// the plugin folder, this file and piscina.
import { readFileSync, realpathSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { extname, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';
import vm from 'node:vm';
import { workerData, type MessagePort } from 'node:worker_threads';
import type {
  DbStatement,
  ExchangeRequest,
  FetchRequest,
  HostCall,
  PluginTaskInput,
  RotateOptions,
} from '../../engine.js';
import type { ToHost, ToWorker, WorkerBoot, WorkerReply, WorkerTask } from './protocol.js';

// Same indices as protocol.ts (not imported: see the note above).
const STAT_HEARTBEAT = 0;
const STAT_EXTERNAL_MB = 1;
const STAT_HEAP_MB = 2;
const TICK_MS = 10;
const MAX_MESSAGE = 2000;
const MB = 1024 * 1024;

const boot = workerData as WorkerBoot;

// Captured before plugin code runs: a plugin shares this realm and could
// replace the globals the watchdog relies on.
const memoryUsage = process.memoryUsage.bind(process);
const startInterval = setInterval;
const stopInterval = clearInterval;
const atomicsAdd = Atomics.add;
const atomicsStore = Atomics.store;
const originalBuiltin = process.getBuiltinModule.bind(process);
const jsonStringify = JSON.stringify;

class DeniedError extends Error {
  readonly code = 'HT_PLUGIN_DENIED';
}
class LoadError extends Error {
  readonly code = 'HT_PLUGIN_LOAD';
}

interface Current {
  port: MessagePort;
  /** The first thing refused during this task; the task then fails as denied. */
  denied: string | undefined;
  /** Host calls waiting for their answer, by id. */
  calls: Map<number, { resolve: (value: unknown) => void; reject: (e: Error) => void }>;
  nextCall: number;
}
/** The task running now (piscina gives a worker one task at a time). */
let current: Current | undefined;

function post(cur: Current | undefined, msg: ToHost): void {
  try {
    cur?.port.postMessage(msg);
  } catch {
    // The host closed the port (task over): nothing to tell.
  }
}

function log(cur: Current | undefined, message: string): void {
  post(cur, { t: 'log', message: message.slice(0, MAX_MESSAGE) });
}

/** Refuses something the plugin tried; the task fails as denied even if the plugin catches it. */
function deny(what: string): DeniedError {
  const message = `${what} is not allowed in the worker engine`;
  if (current && current.denied === undefined) {
    current.denied = message;
    // Told now, not only in the reply: the plugin may still crash its worker.
    post(current, { t: 'denied', message });
  }
  return new DeniedError(message);
}

/** What the lockdown could not lock; plugins are refused when it is not empty. */
const unlocked: string[] = [];

function lock(target: object, key: string, value: unknown, label = key): void {
  try {
    Object.defineProperty(target, key, { value, writable: false, configurable: false });
  } catch {
    // Not configurable: an assignment may still work; checked below.
    try {
      (target as Record<string, unknown>)[key] = value;
    } catch {
      // checked below
    }
  }
  if ((target as Record<string, unknown>)[key] !== value) unlocked.push(label);
}

function denier(what: string): () => never {
  return () => {
    throw deny(what);
  };
}

// ---- lockdown (runs once, when piscina imports this file) ----

// Builtins a plugin may import. Everything else (fs, net, dgram, http(s),
// http2, tls, dns, child_process, cluster, worker_threads, inspector, vm,
// module, os, v8, repl, wasi, trace_events, test…) is refused.
const ALLOWED_BUILTINS = new Set([
  'assert',
  'assert/strict',
  'buffer',
  'crypto',
  'events',
  'path',
  'path/posix',
  'path/win32',
  'process',
  'querystring',
  'stream',
  'stream/promises',
  'stream/web',
  'string_decoder',
  'timers',
  'timers/promises',
  'url',
  'util',
  'util/types',
  'zlib',
]);
const BUILTINS = new Set(builtinModules);

const builtinCache = new Map<string, object>();
/** An allowed builtin as the plugin sees it (dangerous members replaced), or a denial. */
function pluginBuiltin(id: string): object {
  const name = id.startsWith('node:') ? id.slice(5) : id;
  if (!ALLOWED_BUILTINS.has(name)) throw deny(`import of node:${name}`);
  let mod = builtinCache.get(name);
  if (mod) return mod;
  const real = originalBuiltin(name) as object;
  if (name === 'crypto') {
    // setEngine loads a shared library; setFips flips FIPS for the whole process.
    const copy = Object.create(Object.getPrototypeOf(real) as object | null) as object;
    const descriptors = Object.getOwnPropertyDescriptors(real);
    delete descriptors.fips;
    Object.defineProperties(copy, descriptors);
    lock(copy, 'setEngine', denier('crypto.setEngine'));
    lock(copy, 'setFips', denier('crypto.setFips'));
    mod = copy;
  } else {
    mod = real;
  }
  builtinCache.set(name, mod);
  return mod;
}

function lockdown(): void {
  // Network only through ctx.fetch (host broker); no channels to other threads.
  for (const name of ['fetch', 'WebSocket', 'EventSource', 'BroadcastChannel']) {
    try {
      delete (globalThis as Record<string, unknown>)[name];
    } catch {
      // not deletable: replaced below
    }
    lock(globalThis, name, denier(name === 'fetch' ? 'global fetch (use ctx.fetch)' : name));
  }
  // process APIs that reach past the worker: signals to any pid (the host
  // included), native bindings and addons, env files, and process.report,
  // whose getReport() returns the host's whole environment even with env: {}.
  for (const name of ['kill', '_kill', 'binding', '_linkedBinding', 'dlopen', 'loadEnvFile']) {
    lock(process, name, denier(`process.${name}`), `process.${name}`);
  }
  for (const name of ['_debugProcess', '_debugEnd', '_startProfilerIdleNotifier']) {
    if (name in process) lock(process, name, denier(`process.${name}`), `process.${name}`);
  }
  try {
    Object.defineProperty(process, 'report', {
      get: denier('process.report'),
      configurable: false,
    });
  } catch {
    const report = process.report as unknown as Record<string, unknown>;
    lock(report, 'getReport', denier('process.report'), 'process.report.getReport');
    lock(report, 'writeReport', denier('process.report'), 'process.report.writeReport');
  }
  lock(
    process,
    'getBuiltinModule',
    (id: string) => pluginBuiltin(String(id)),
    'process.getBuiltinModule',
  );
  // Output goes to the task's log (bounded by the host), never straight to the
  // daemon's stdout/stderr where it could forge log lines.
  const toLog = (...args: unknown[]): void => log(current, format(...args));
  for (const name of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table']) {
    lock(console, name, toLog, `console.${name}`);
  }
  const writeToLog = (chunk: unknown, ...rest: unknown[]): boolean => {
    log(current, typeof chunk === 'string' ? chunk : String(chunk));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    if (cb) queueMicrotask(cb);
    return true;
  };
  lock(process.stdout, 'write', writeToLog, 'process.stdout.write');
  lock(process.stderr, 'write', writeToLog, 'process.stderr.write');
  lock(process, '_rawDebug', toLog, 'process._rawDebug');
}

lockdown();

// ---- the plugin's module graph ----

const realDir = (() => {
  try {
    return realpathSync(boot.dir);
  } catch {
    return boot.dir;
  }
})();

const modules = new Map<string, vm.Module>();

function insideDir(file: string): boolean {
  return file.startsWith(realDir + sep);
}

function moduleFor(specifier: string, parentUrl: string): vm.Module {
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  if (specifier.startsWith('node:') || BUILTINS.has(bare)) {
    const key = `node:${bare}`;
    let mod = modules.get(key);
    if (mod) return mod;
    const ns = pluginBuiltin(bare) as Record<string, unknown>;
    const names = Object.keys(ns).filter((k) => k !== 'default');
    mod = new vm.SyntheticModule(
      ['default', ...names],
      function (this: vm.SyntheticModule) {
        this.setExport('default', ns);
        for (const k of names) this.setExport(k, ns[k]);
      },
      { identifier: key },
    );
    modules.set(key, mod);
    return mod;
  }
  const relative = /^\.{0,2}\//.test(specifier) || specifier.startsWith('file:');
  if (!relative) {
    throw new LoadError(
      `cannot import "${specifier}": only files inside the plugin folder and allowed node: builtins can be imported (bundle npm dependencies into the plugin)`,
    );
  }
  const url = new URL(specifier, parentUrl);
  if (url.protocol !== 'file:') throw deny(`import of ${url.protocol} URLs`);
  let file: string;
  try {
    file = realpathSync(fileURLToPath(url));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_ACCESS_DENIED') throw deny(`reading ${url.href}`);
    throw new LoadError(`cannot import "${specifier}" from ${parentUrl}: not found`);
  }
  if (!insideDir(file)) throw deny(`import of ${file} (outside the plugin folder)`);
  const key = pathToFileURL(file).href;
  let mod = modules.get(key);
  if (mod) return mod;
  const ext = extname(file);
  const source = readFileSync(file, 'utf8');
  if (ext === '.json') {
    const value: unknown = JSON.parse(source);
    mod = new vm.SyntheticModule(
      ['default'],
      function (this: vm.SyntheticModule) {
        this.setExport('default', value);
      },
      { identifier: key },
    );
  } else if (ext === '.mjs' || ext === '.js') {
    mod = new vm.SourceTextModule(source, {
      identifier: key,
      initializeImportMeta(meta) {
        const m = meta as { url: string; filename: string; dirname: string };
        m.url = key;
        m.filename = file;
        m.dirname = file.slice(0, file.lastIndexOf(sep));
      },
      importModuleDynamically: (spec, referrer) => dynamicImport(spec, referrer.identifier),
    });
  } else {
    throw new LoadError(`cannot import ${file}: only .mjs, .js (ES modules) and .json`);
  }
  modules.set(key, mod);
  return mod;
}

const linker: vm.ModuleLinker = (specifier, referencing) =>
  moduleFor(specifier, referencing.identifier);

async function dynamicImport(specifier: string, parentUrl: string): Promise<vm.Module> {
  const mod = moduleFor(specifier, parentUrl);
  if (mod.status === 'unlinked') await mod.link(linker);
  if (mod.status === 'linked') await mod.evaluate();
  return mod;
}

interface Plugin {
  analyze(input: PluginTaskInput, ctx: unknown): unknown;
}

let loaded: Promise<Plugin> | undefined;

async function loadPlugin(): Promise<Plugin> {
  // The engine turns the permission model on; refuse to run a plugin without it.
  const permission = (process as { permission?: { has(scope: string, ref?: string): boolean } })
    .permission;
  // (Not has('fs.read', '/'): Node 20.20 answers true for the root directory
  // itself with some allow-lists, a radix-tree quirk; measured.)
  if (!permission || permission.has('fs.write', realDir) || permission.has('child')) {
    throw new LoadError('the Node permission model is not on in this worker');
  }
  // Fail closed: a Node version that no longer lets the lockdown hold runs no plugin.
  if (unlocked.length > 0)
    throw new LoadError(`the worker lockdown failed: ${unlocked.join(', ')}`);
  const entry = realpathSync(boot.entryPath);
  if (!insideDir(entry))
    throw new LoadError(`entry ${boot.entryPath} is outside the plugin folder`);
  const root = moduleFor(pathToFileURL(entry).href, pathToFileURL(realDir + sep).href);
  await root.link(linker);
  await root.evaluate();
  const def = (root.namespace as { default?: unknown }).default;
  if (
    typeof def !== 'object' ||
    def === null ||
    typeof (def as { analyze?: unknown }).analyze !== 'function'
  ) {
    throw new LoadError('the default export has no analyze() function');
  }
  return def as Plugin;
}

// ---- tasks ----

function describe(err: unknown): string {
  try {
    // The engine's own refusals read as sentences; a plugin's errors keep their name.
    if (err instanceof LoadError || err instanceof DeniedError) return err.message;
    if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, MAX_MESSAGE);
    return String(err).slice(0, MAX_MESSAGE);
  } catch {
    return 'an error that cannot be described';
  }
}

function errorCode(err: unknown): unknown {
  try {
    return (err as { code?: unknown } | null)?.code;
  } catch {
    return undefined;
  }
}

function isDenial(err: unknown): boolean {
  const code = errorCode(err);
  return (
    code === 'HT_PLUGIN_DENIED' || code === 'ERR_ACCESS_DENIED' || code === 'ERR_DLOPEN_DISABLED'
  );
}

/** Sends one host call and waits for its answer; refused once the task has ended. */
function hostCall(cur: Current, what: string, call: HostCall): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (current !== cur) {
      reject(new Error(`${what} called after the task ended`));
      return;
    }
    const id = ++cur.nextCall;
    cur.calls.set(id, { resolve, reject });
    try {
      cur.port.postMessage({ t: 'call', id, call } satisfies ToHost);
    } catch (err) {
      // Not cloneable (a function, a symbol…): the call fails here, not by the task's timeout.
      cur.calls.delete(id);
      reject(
        Object.assign(new Error(`${what}: ${describe(err)}`), { code: 'ERR_INVALID_ARG_TYPE' }),
      );
    }
  });
}

function makeContext(cur: Current, input: PluginTaskInput): object {
  const files = (call: Extract<HostCall, { kind: 'files' }>['call']) =>
    hostCall(cur, `ctx.files.${call.op}`, { kind: 'files', call });
  return Object.freeze({
    config: input.config,
    log: (message: unknown) => log(cur, String(message)),
    fetch: (req: FetchRequest) => hostCall(cur, 'ctx.fetch', { kind: 'fetch', req }),
    exchange: (req: ExchangeRequest) => hostCall(cur, 'ctx.exchange', { kind: 'exchange', req }),
    files: Object.freeze({
      append: (name: string, data: string | Uint8Array, opts?: { rotate?: RotateOptions }) =>
        files({ op: 'append', name, data, ...(opts?.rotate ? { rotate: opts.rotate } : {}) }),
      write: (name: string, data: string | Uint8Array, opts?: { exclusive?: boolean }) =>
        files({ op: 'write', name, data, ...(opts?.exclusive ? { exclusive: true } : {}) }),
      stat: (name: string) => files({ op: 'stat', name }),
      list: (dir?: string) => files({ op: 'list', ...(dir === undefined ? {} : { dir }) }),
      remove: (name: string) => files({ op: 'remove', name }),
    }),
    db: Object.freeze({
      query: (sql: string, params?: unknown[]) =>
        hostCall(cur, 'ctx.db.query', {
          kind: 'db',
          call: { op: 'query', sql, ...(params === undefined ? {} : { params }) },
        }),
      transaction: (statements: DbStatement[]) =>
        hostCall(cur, 'ctx.db.transaction', {
          kind: 'db',
          call: { op: 'transaction', statements },
        }),
    }),
  });
}

/** Errors the host sent for a call; a plugin cannot make one (it can only rethrow it). */
const hostErrors = new WeakSet<Error>();

function onHostMessage(cur: Current, msg: ToWorker): void {
  const pending = cur.calls.get(msg.id);
  if (!pending) return;
  cur.calls.delete(msg.id);
  if (msg.ok) {
    pending.resolve(msg.value);
    return;
  }
  const err = Object.assign(new Error(msg.message), { code: msg.code });
  hostErrors.add(err);
  pending.reject(err);
}

/** How a failed task is reported: a host service being down is not the plugin throwing. */
function failureKind(err: unknown): 'denied' | 'threw' | 'unavailable' {
  if (isDenial(err)) return 'denied';
  if (err instanceof Error && hostErrors.has(err) && errorCode(err) === 'HT_PLUGIN_UNAVAILABLE')
    return 'unavailable';
  return 'threw';
}

export default async function runTask(task: WorkerTask): Promise<WorkerReply> {
  const cur: Current = {
    port: task.port,
    denied: undefined,
    calls: new Map(),
    nextCall: 0,
  };
  current = cur;
  const stats = new Int32Array(task.stats);
  const tick = (): void => {
    atomicsAdd(stats, STAT_HEARTBEAT, 1);
    const usage = memoryUsage();
    // external counts ArrayBuffers and WebAssembly memories (measured).
    atomicsStore(stats, STAT_EXTERNAL_MB, Math.ceil(usage.external / MB));
    atomicsStore(stats, STAT_HEAP_MB, Math.ceil(usage.heapUsed / MB));
  };
  tick();
  const ticker = startInterval(tick, TICK_MS);
  task.port.on('message', (msg: ToWorker) => onHostMessage(cur, msg));
  try {
    let plugin: Plugin;
    try {
      loaded ??= loadPlugin();
      plugin = await loaded;
    } catch (err) {
      const kind = isDenial(err) || cur.denied !== undefined ? 'denied' : 'load';
      return { ok: false, kind, message: cur.denied ?? describe(err) };
    }
    if (task.kind === 'probe' || task.input === undefined) return { ok: true, json: 'null' };
    let json: string;
    try {
      const result = await plugin.analyze(task.input, makeContext(cur, task.input));
      json = jsonStringify(result) ?? 'null';
    } catch (err) {
      if (cur.denied !== undefined) return { ok: false, kind: 'denied', message: cur.denied };
      const kind = failureKind(err);
      // The host's own message for an unavailable service, without the plugin's "Error: ".
      const message = kind === 'unavailable' ? (err as Error).message : describe(err);
      return { ok: false, kind, message };
    }
    if (cur.denied !== undefined) return { ok: false, kind: 'denied', message: cur.denied };
    return { ok: true, json };
  } finally {
    stopInterval(ticker);
    current = undefined;
    task.port.close();
  }
}
