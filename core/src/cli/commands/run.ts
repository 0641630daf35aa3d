// honeytrap run: start the daemon and keep it up until SIGINT/SIGTERM.
import { loadConfig } from '../../config/load.js';
import { Daemon } from '../../daemon.js';
import { createLogger } from '../../log.js';
import { dirname } from 'node:path';
import { controlSocketPath, storePath } from '../../paths.js';
import { raiseFdLimit } from '../../system/fd-limit.js';
import { enableTimeWaitReuse } from '../../system/tcp-reuse.js';
import { resolveAccount, rerunAs, shouldDrop } from '../../system/privileges.js';

export async function runCommand(opts: { config?: string }): Promise<void> {
  const { config, source } = await loadConfig(opts.config);
  const log = createLogger(config.log);
  const { user, group } = config.privileges;
  if (shouldDrop(user)) {
    // What only root may do happens here, once; the child inherits it.
    const account = resolveAccount(user, group);
    raiseFdLimit();
    if (config.defaults.mode === 'mirror' || config.ports.some((p) => p.mode === 'mirror'))
      enableTimeWaitReuse();
    log.info(
      { user, uid: account.uid, gid: account.gid },
      'dropping root: running as privileges.user with CAP_NET_ADMIN and CAP_NET_BIND_SERVICE',
    );
    log.flush();
    // The folders the daemon writes are handed to the account: the store (the
    // default plugin files root is inside it), the control socket's, and the
    // output plugins' folders the operator named (T-Pot: /data/honeytrap/log).
    const files = config.plugins.files;
    process.exitCode = await rerunAs(account, [
      storePath(config),
      dirname(controlSocketPath(config)),
      ...(files.root ? [files.root] : []),
      ...Object.values(files.dirs),
    ]);
    return;
  }
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
        // The nfqueue binding cannot close its queue, which keeps the event
        // loop alive: everything is stored and closed, so exit now.
        process.exit(0);
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
