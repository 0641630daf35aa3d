// The engines a plugin may name in its manifest. Each is loaded the first
// time a plugin needs it, so a daemon without plugins never loads piscina or
// the wasm loader. Plugin log lines go to the daemon's log, tagged with the plugin.
import type { Logger } from '../../log.js';
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

export function createEngines(log: Logger): Record<'worker' | 'wasm', Engine> {
  const pluginLog = (plugin: string, message: string) => log.info({ plugin }, message);
  return {
    worker: lazy(
      'worker',
      async () => new (await import('./worker/engine.js')).WorkerEngine({ log: pluginLog }),
    ),
    wasm: lazy(
      'wasm',
      async () =>
        new (await import('./wasm/engine.js')).WasmEngine({
          onLog: (e) => pluginLog(e.plugin, e.message),
        }),
    ),
  };
}
