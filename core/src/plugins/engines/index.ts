// The engines a plugin may name in its manifest. Each is loaded the first
// time a plugin needs it, so a daemon without plugins never loads piscina or
// the wasm loader.
import type { Engine, LoadedPlugin, NetworkBroker, PluginRunner } from '../engine.js';

function lazy(name: 'worker' | 'wasm', load: () => Promise<Engine>): Engine {
  let engine: Promise<Engine> | undefined;
  return {
    name,
    async start(plugin: LoadedPlugin, broker: NetworkBroker): Promise<PluginRunner> {
      engine ??= load();
      return (await engine).start(plugin, broker);
    },
  };
}

export function createEngines(): Record<'worker' | 'wasm', Engine> {
  return {
    worker: lazy('worker', async () => new (await import('./worker/engine.js')).WorkerEngine()),
    wasm: lazy('wasm', async () => new (await import('./wasm/engine.js')).WasmEngine()),
  };
}
