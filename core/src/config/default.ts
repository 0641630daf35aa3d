// The embedded default config: `honeytrap run` with no --config uses it.
import { readFileSync } from 'node:fs';
import { paths } from '../paths.js';

export function defaultConfigText(): string {
  return readFileSync(paths.defaultConfig, 'utf8');
}
