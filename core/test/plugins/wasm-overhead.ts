// What the wasm engine costs per task: a plugin whose analyze does nothing,
// on 1 KB attacks. Not a test; run it with
//   npx vite-node core/test/plugins/wasm-overhead.ts
// and see docs/plugin-wasm.md for the figures.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginTaskInput } from '../../src/plugins/engine.js';
import { WasmEngine } from '../../src/plugins/engines/wasm/engine.js';
import {
  attackOf,
  compileFixture,
  noBroker,
  taskOf,
  wasmManifest,
  wasmPlugin,
} from './wasm-fixtures.js';

const TASKS = 1000;

function attack1k(i: number): PluginTaskInput {
  const bytes = Buffer.alloc(1024);
  for (let j = 0; j < bytes.length; j++) bytes[j] = 32 + ((i * 31 + j * 7) % 95);
  return taskOf(attackOf(bytes));
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const root = await mkdtemp(join(tmpdir(), 'ht-wasm-overhead-'));
try {
  const wasm = await compileFixture('trivial');
  const inputs = Array.from({ length: TASKS }, (_, i) => attack1k(i));
  console.log(
    `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}; ${TASKS} tasks, 1 KB attacks (task input ${JSON.stringify(inputs[0]).length} bytes of JSON)`,
  );

  for (const concurrency of [1, 2]) {
    const plugin = await wasmPlugin(
      root,
      wasm,
      wasmManifest(`trivial-${concurrency}`, { limits: { concurrency } }),
    );
    const runner = await new WasmEngine().start(plugin, noBroker);
    for (let i = 0; i < 200; i++) await runner.run(inputs[i % TASKS] as PluginTaskInput);

    // One at a time: the latency one task adds.
    const lat: number[] = [];
    const t0 = performance.now();
    for (const input of inputs) {
      const t = performance.now();
      await runner.run(input);
      lat.push(performance.now() - t);
    }
    const serial = performance.now() - t0;
    lat.sort((a, b) => a - b);

    // All at once: throughput with the gate full.
    const t1 = performance.now();
    await Promise.all(inputs.map((input) => runner.run(input)));
    const burst = performance.now() - t1;
    await runner.close();

    const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;
    console.log(
      `concurrency ${concurrency}: one at a time mean ${us(serial / TASKS)}, p50 ${us(quantile(lat, 0.5))}, ` +
        `p99 ${us(quantile(lat, 0.99))}; all at once ${Math.round((TASKS / burst) * 1000)} tasks/s`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
