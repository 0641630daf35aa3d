// The iptables rules of the nfqueue capture: TCP SYNs and new UDP flows go to
// the queue; excluded ports (real services) RETURN first so they are never
// caught, and the rest of the INPUT chain still applies to them. The same
// rules go to iptables and ip6tables, legacy or nftables-backed.
import { execFileSync } from 'node:child_process';
import { HoneytrapError } from '../errors.js';
import type { ResolvedConfig } from '../generated/config-resolved.js';

export const CHAIN = 'HONEYTRAP';

type Nfq = ResolvedConfig['capture']['nfqueue'];

export interface RuleSet {
  /** Each rule as iptables arguments (without the binary). */
  rules: string[][];
  /** The jump from INPUT into our chain. */
  jump: string[];
}

export function buildRules(nfq: Nfq): RuleSet {
  const queue = [
    '-j',
    'NFQUEUE',
    '--queue-num',
    String(nfq.queue),
    ...(nfq.failOpen ? ['--queue-bypass'] : []),
  ];
  const rules: string[][] = [];
  for (const spec of nfq.excludePorts) {
    const [port, proto] = spec.split('/') as [string, string];
    rules.push(['-A', CHAIN, '-p', proto, '--dport', port, '-j', 'RETURN']);
  }
  // A port that already has a listener (ours, or a real service) needs no
  // verdict: the socket match sends its packets straight on, so only the
  // first connection to a port makes the trip through the queue.
  // --nowildcard: without it the match ignores listeners bound to 0.0.0.0/::,
  // which ours are (measured: 0 matches, every SYN queued, half the conn/s).
  rules.push(['-A', CHAIN, '-p', 'tcp', '--syn', '-m', 'socket', '--nowildcard', '-j', 'RETURN']);
  rules.push(['-A', CHAIN, '-p', 'tcp', '--syn', ...queue]);
  rules.push(['-A', CHAIN, '-p', 'udp', '-m', 'socket', '--nowildcard', '-j', 'RETURN']);
  rules.push(['-A', CHAIN, '-p', 'udp', '-m', 'conntrack', '--ctstate', 'NEW', ...queue]);
  const iface = nfq.interface ? ['-i', nfq.interface] : ['!', '-i', 'lo'];
  return { rules, jump: ['INPUT', ...iface, '-j', CHAIN] };
}

export function binaries(backend: Nfq['iptables']): [string, string] {
  if (backend === 'legacy') return ['iptables-legacy', 'ip6tables-legacy'];
  if (backend === 'nft') return ['iptables-nft', 'ip6tables-nft'];
  return ['iptables', 'ip6tables'];
}

/** The rules as the shell commands that install them. */
export function renderRules(nfq: Nfq): string {
  const { rules, jump } = buildRules(nfq);
  const lines: string[] = [];
  for (const bin of binaries(nfq.iptables)) {
    lines.push(`${bin} -N ${CHAIN}`);
    for (const r of rules) lines.push(`${bin} ${r.join(' ')}`);
    lines.push(`${bin} -I ${jump.join(' ')}`);
  }
  return lines.join('\n');
}

/** Refuses rules that would catch what must stay reachable (the SSH session we run in). */
export function safetyProblems(nfq: Nfq, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  const excluded = new Set(nfq.excludePorts);
  const ssh = env.SSH_CONNECTION?.split(' ');
  const sshPort = ssh?.[3];
  if (sshPort && !excluded.has(`${sshPort}/tcp`))
    problems.push(
      `the rules would catch ${sshPort}/tcp, the port of this SSH session; add "${sshPort}/tcp" to capture.nfqueue.excludePorts`,
    );
  return problems;
}

function run(bin: string, args: string[]): { ok: boolean; err: string } {
  try {
    execFileSync(bin, ['-w', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { ok: true, err: '' };
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new HoneytrapError(
        'HT_UNSUPPORTED',
        `${bin} is not installed (apt-get install iptables)`,
      );
    return { ok: false, err: err.stderr?.toString().trim() ?? String(e) };
  }
}

export function removeRules(nfq: Nfq): void {
  const { jump } = buildRules(nfq);
  for (const bin of binaries(nfq.iptables)) {
    // Remove every jump (a crashed run may have left several), then the chain.
    for (let i = 0; i < 64 && run(bin, ['-D', ...jump]).ok; i++);
    run(bin, ['-F', CHAIN]);
    run(bin, ['-X', CHAIN]);
  }
}

export function applyRules(nfq: Nfq, env: NodeJS.ProcessEnv = process.env): void {
  const problems = safetyProblems(nfq, env);
  if (problems.length)
    throw new HoneytrapError('HT_UNSUPPORTED', 'refusing to apply the nfqueue rules', {
      details: problems,
    });
  removeRules(nfq);
  const { rules, jump } = buildRules(nfq);
  for (const bin of binaries(nfq.iptables)) {
    for (const args of [['-N', CHAIN], ...rules, ['-I', ...jump]]) {
      const r = run(bin, args);
      if (!r.ok) {
        removeRules(nfq);
        throw new HoneytrapError('HT_UNSUPPORTED', `${bin} ${args.join(' ')} failed: ${r.err}`);
      }
    }
  }
}
