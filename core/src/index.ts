export { Daemon, storePath, controlSocketPath } from './daemon.js';
export { loadConfig, parseConfigText } from './config/load.js';
export { validateConfig } from './config/validate.js';
export { AttackStore } from './store/attack-store.js';
export { HoneytrapError } from './errors.js';
export type { Attack } from './generated/attack.js';
export type { HoneytrapConfig } from './generated/config.js';
export type { ResolvedConfig } from './generated/config-resolved.js';
