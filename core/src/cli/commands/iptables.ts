// honeytrap iptables [--apply|--remove]: the rules for the configured queue.
import { loadConfig } from '../../config/load.js';
import { applyRules, removeRules, renderRules } from '../../capture/iptables.js';

export async function iptablesCommand(opts: {
  config?: string;
  apply?: boolean;
  remove?: boolean;
}): Promise<void> {
  const { config } = await loadConfig(opts.config);
  const nfq = config.capture.nfqueue;
  if (opts.apply && opts.remove) throw new Error('--apply and --remove exclude each other');
  if (opts.remove) {
    removeRules(nfq);
    process.stdout.write(`removed the ${nfq.iptables} rules for NFQUEUE ${nfq.queue}\n`);
  } else if (opts.apply) {
    applyRules(nfq);
    process.stdout.write(`applied:\n${renderRules(nfq)}\n`);
  } else {
    process.stdout.write(renderRules(nfq) + '\n');
  }
}
