// The code of a wasm worker thread: it instantiates the plugin's module with
// the host's imports and runs analyze() for each task the engine posts.
//
// It is started as `new Worker(WORKER_SOURCE, { eval: true })`, so
// wasmWorkerMain must be self-contained: only type imports at the top of this
// file, nothing from outside the function at run time (node built-ins come
// from process.getBuiltinModule, the loader from a require rooted at the
// engine's own file). The same code then runs from dist/ and from the
// TypeScript sources under vitest, with no build step and no TypeScript
// loader in the worker.
import type * as Loader from '@assemblyscript/loader';
import type { FailCode, RunMessage, WorkerBoot, WorkerMessage } from './protocol.js';
import type { WasmApi, WasmMemory } from './wasm-api.js';

export function wasmWorkerMain(): void {
  'use strict';
  const threads = process.getBuiltinModule('node:worker_threads');
  const { createRequire } = process.getBuiltinModule('node:module');
  const boot = threads.workerData as WorkerBoot;
  // Plugins yield the CPU to capture when the two compete: on Linux a thread
  // has its own nice value, and setpriority(0) changes only the calling thread.
  try {
    process.getBuiltinModule('node:os').setPriority(0, boot.nice);
  } catch {
    /* not allowed here: run at normal priority */
  }
  const port = threads.parentPort;
  if (!port) throw new Error('wasm worker started outside a worker thread');
  const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const loader = createRequire(boot.requireFrom)('@assemblyscript/loader') as typeof Loader;
  const PAGE = 65536;
  const LARGE_INPUT_CHARS = 1 << 20;
  const utf16 = new TextDecoder('utf-16le');

  interface PluginExports {
    analyze(input: number): number;
    __new(size: number, id: number): number;
    __pin(ptr: number): number;
    __unpin(ptr: number): void;
    __collect?(): void;
    __newString(s: string): number;
    __getString(ptr: number): string | null;
  }

  /** Thrown by env.abort: the AssemblyScript runtime's way to end with an error. */
  class WasmAbort extends Error {
    constructor(
      readonly abortMessage: string,
      readonly file: string,
      readonly line: number,
      readonly column: number,
    ) {
      super(`abort: ${abortMessage} at ${file}:${line}:${column}`);
    }
  }

  const send = (m: WorkerMessage): void => port.postMessage(m);

  let memory: WasmMemory | undefined;
  let exports: PluginExports | undefined;
  let oomFunctions = boot.oomFunctions;
  let taskId: number | null = null;
  let quiet = false;
  let logLines = 0;
  let logDropped = 0;

  /** An AssemblyScript string: UTF-16LE at ptr, its byte length in the object header at ptr - 4. */
  function readString(ptr: number, maxChars: number): string {
    if (ptr === 0) return '';
    const buf = memory?.buffer;
    ptr >>>= 0;
    if (!buf || ptr < 4 || ptr > buf.byteLength) return '<bad string pointer>';
    const bytes = new DataView(buf).getUint32(ptr - 4, true);
    const chars = Math.min(bytes >>> 1, maxChars, (buf.byteLength - ptr) >>> 1);
    const text = utf16.decode(new Uint8Array(buf, ptr, chars * 2));
    return chars < bytes >>> 1 ? `${text}…` : text;
  }

  function log(message: string): void {
    if (quiet) return;
    if (logLines >= boot.maxLogLines) {
      logDropped++;
      return;
    }
    logLines++;
    send({ type: 'log', id: taskId, message });
  }

  function flushLog(): void {
    if (logDropped > 0) {
      send({
        type: 'log',
        id: taskId,
        message: `${logDropped} more log line(s) dropped (at most ${boot.maxLogLines} per task)`,
      });
    }
    logLines = 0;
    logDropped = 0;
  }

  /** The import object: exactly what imports.ts grants, nothing else. */
  function hostImports(mem: WasmMemory): Loader.Imports {
    return {
      env: {
        memory: mem,
        abort(msg: number, file: number, line: number, column: number): never {
          throw new WasmAbort(readString(msg, 1000), readString(file, 300), line, column);
        },
        trace(msg: number, n = 0, ...args: number[]): void {
          const values = args.slice(0, n).join(', ');
          log(`trace: ${readString(msg, boot.maxLogChars)}${values ? ` ${values}` : ''}`);
        },
        seed: (): number => Date.now() * Math.random(),
      },
      honeytrap: {
        log(msg: number): void {
          log(readString(msg, boot.maxLogChars));
        },
      },
    };
  }

  function instantiate(maximum: number): PluginExports {
    const mem = new WA.Memory({ initial: boot.initial, maximum });
    memory = mem;
    // The loader adds its own defaults (env.abort/trace/seed, Math, Date) only
    // where the object has none; a module can link nothing the host did not
    // check, since its imports were refused before this ran.
    const inst = loader.instantiateSync(boot.module, hostImports(mem));
    return inst.exports as unknown as PluginExports;
  }

  /** The wasm function a trap happened in, from V8's stack: "wasm-function[12]:0x4a3". */
  function trapFunction(err: Error): number | undefined {
    const m = /wasm-function\[(\d+)\]/.exec(err.stack ?? '');
    return m?.[1] === undefined ? undefined : Number(m[1]);
  }

  function trapSite(err: Error): string {
    const line = (err.stack ?? '').split('\n').find((l) => l.includes('wasm-function['));
    return line
      ? ` at ${line
          .trim()
          .replace(/^at /, '')
          .replace(/wasm:\/\/wasm\/[0-9a-f]+:/, '')}`
      : '';
  }

  /**
   * Finds where the allocator traps when memory cannot grow. AssemblyScript's
   * allocator does not abort on out-of-memory: memory.grow fails and it
   * executes `unreachable`, which looks like any other trap. An instance whose
   * memory cannot hold the request is asked for it through __new, and the
   * function it traps in is recorded (with -O3 the allocator is inlined into
   * __new). A later `unreachable` in that function is out-of-memory.
   */
  function findOomFunctions(): number[] {
    const maximum = Math.min(boot.maximum, boot.initial + 1024);
    const size = (maximum + 1) * PAGE;
    if (size >= 1 << 30) return []; // past the runtime's largest object: it aborts instead
    quiet = true;
    try {
      const ex = instantiate(maximum);
      ex.__new(size, 0);
    } catch (err) {
      if (err instanceof WA.RuntimeError) {
        const fn = trapFunction(err);
        if (fn !== undefined) return [fn];
      }
    } finally {
      quiet = false;
    }
    return [];
  }

  function classify(err: unknown): { code: FailCode; message: string } {
    if (err instanceof WasmAbort) {
      if (err.file.startsWith('~lib/rt/') && /allocation too large/i.test(err.abortMessage)) {
        return { code: 'HT_PLUGIN_MEMORY', message: `out of memory: ${err.message}` };
      }
      return { code: 'HT_PLUGIN_THREW', message: err.message };
    }
    if (err instanceof WA.RuntimeError) {
      if (/unreachable/.test(err.message)) {
        // Where the probe found the allocator's trap, that is the test. Only
        // if it found none, an `unreachable` with memory at its maximum is
        // taken as out-of-memory (memory never shrinks, so that is weaker).
        const fn = trapFunction(err);
        const full = (memory?.buffer.byteLength ?? 0) / PAGE >= boot.maximum;
        if (oomFunctions.length ? fn !== undefined && oomFunctions.includes(fn) : full) {
          const mib = ((boot.maximum * PAGE) / 1048576).toFixed(boot.maximum % 16 ? 2 : 0);
          return {
            code: 'HT_PLUGIN_MEMORY',
            message: `out of memory: the module's memory cannot grow past its maximum of ${mib} MiB (limits.memoryMb)`,
          };
        }
      }
      return { code: 'HT_PLUGIN_THREW', message: `wasm trap: ${err.message}${trapSite(err)}` };
    }
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      return { code: 'HT_PLUGIN_THREW', message: `stack overflow: ${err.message}` };
    }
    return {
      code: 'HT_PLUGIN_THREW',
      message: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    };
  }

  function run(msg: RunMessage): void {
    taskId = msg.id;
    try {
      // A failed task leaves no instance behind: a trap or abort can stop the
      // runtime half-way through an allocation or a collection.
      const ex = (exports ??= instantiate(boot.maximum));
      const input = ex.__pin(ex.__newString(msg.input));
      const out = ex.analyze(input) >>> 0;
      ex.__unpin(input);
      let output: string | null;
      try {
        output = ex.__getString(out);
      } catch (err) {
        flushLog();
        const why = err instanceof Error ? err.message : String(err);
        send({
          type: 'fail',
          id: msg.id,
          code: 'HT_PLUGIN_RESULT',
          message: `analyze did not return a string (${why})`,
        });
        return;
      }
      // The input string is garbage now but still allocated: after a large
      // one, collect (once the output is read) before the next task copies
      // its input in, or a reused instance runs out of memory on every other
      // large task (measured).
      if (msg.input.length > LARGE_INPUT_CHARS) ex.__collect?.();
      flushLog();
      if (output === null) {
        send({
          type: 'fail',
          id: msg.id,
          code: 'HT_PLUGIN_RESULT',
          message: 'analyze returned null',
        });
      } else {
        send({ type: 'done', id: msg.id, output });
      }
    } catch (err) {
      exports = undefined;
      flushLog();
      send({ type: 'fail', id: msg.id, ...classify(err) });
      // Start over now, before the next task's clock runs; if this fails
      // too, the next task instantiates again and reports why.
      taskId = null;
      quiet = true;
      try {
        exports = instantiate(boot.maximum);
      } catch {
        exports = undefined;
      } finally {
        quiet = false;
        logLines = 0;
        logDropped = 0;
      }
    } finally {
      taskId = null;
    }
  }

  try {
    if (boot.probe) oomFunctions = findOomFunctions();
    exports = instantiate(boot.maximum);
    flushLog();
    send({ type: 'ready', oomFunctions });
  } catch (err) {
    flushLog();
    send({ type: 'boot-failed', ...classify(err) });
    return;
  }
  port.on('message', (msg: RunMessage) => run(msg));
}

/** What the engine passes to `new Worker(…, { eval: true })`. */
export const WORKER_SOURCE = `(${wasmWorkerMain.toString()})();`;
