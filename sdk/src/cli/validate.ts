// honeytrap-plugin validate [DIR]: core's manifest checks, the same the
// daemon makes when the folder is dropped in (exit 2 with every problem).
import { checkedPlugin, stdout, type Out } from './common.js';

export function validatePlugin(dir: string, out: Out = stdout): void {
  const m = checkedPlugin(dir).manifest;
  out(`plugin ${m.name} ${m.version} (${m.engine}, entry ${m.entry}) is valid`);
}
