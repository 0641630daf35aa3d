// honeytrap run: start the daemon and keep it up until SIGINT/SIGTERM.
import { loadConfig } from '../../config/load.js';
import { Daemon } from '../../daemon.js';
import { createLogger } from '../../log.js';

export async function runCommand(opts: { config?: string }): Promise<void> {
  const { config, source } = await loadConfig(opts.config);
  const log = createLogger(config.log);
  log.info({ config: source, pid: process.pid }, 'honeytrap starting');
  const daemon = await Daemon.start(config, log);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting without finishing');
      log.flush();
      process.exit(130);
    }
    log.info({ signal }, 'shutting down: ending sessions and flushing the store');
    daemon
      .stop()
      .then(() => {
        log.flush();
        process.exitCode = 0;
      })
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
