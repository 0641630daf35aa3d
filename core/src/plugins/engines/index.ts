// The engines a plugin may name in its manifest.
import type { Engine } from '../engine.js';
import { WasmEngine } from './wasm/engine.js';
import { WorkerEngine } from './worker/engine.js';

export function createEngines(): Record<'worker' | 'wasm', Engine> {
  return { worker: new WorkerEngine(), wasm: new WasmEngine() };
}
