// Structured logs with pino: JSON lines by default, pretty on a TTY.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { ResolvedConfig } from './generated/config-resolved.js';

export type { Logger };

export function createLogger(cfg: ResolvedConfig['log'], stream = process.stdout): Logger {
  const usePretty = cfg.format === 'pretty' || (cfg.format === 'auto' && stream.isTTY === true);
  const opts = {
    level: cfg.level,
    base: { name: 'honeytrap' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (usePretty)
    return pino(opts, pretty({ colorize: stream.isTTY === true, destination: stream, sync: true }));
  // Async writes keep logging off the hot path; flushed on shutdown.
  return pino(opts, pino.destination({ dest: 1, sync: false }));
}
