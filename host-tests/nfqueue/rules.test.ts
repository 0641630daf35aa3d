// Issue 3, `honeytrap iptables`: the printed and installed rules put the
// excluded ports' RETURN before the NFQUEUE rules (iptables and ip6tables,
// legacy and nft backends); --apply refuses rules that would catch the SSH
// session's port; --remove leaves no HONEYTRAP chain.
import { describe, expect, test } from 'vitest';
import { envWithoutSsh, iptablesCommand, nfqSuite, writeNfqConfig } from '../lib/nfq-suite.js';

const env = nfqSuite('rules', ['iptables-legacy', 'ip6tables-legacy', 'iptables-nft']);

const EXCLUDED = ['22/tcp', '2222/tcp', '53/udp'];
const BACKENDS = [
  { backend: 'legacy', v4: 'iptables-legacy', v6: 'ip6tables-legacy' },
  { backend: 'nft', v4: 'iptables-nft', v6: 'ip6tables-nft' },
  { backend: 'auto', v4: 'iptables', v6: 'ip6tables' },
] as const;

function configFor(backend: string) {
  return writeNfqConfig({ queue: 14, nfqueue: { iptables: backend, excludePorts: EXCLUDED } });
}

/** Index of the first line matching `re`, failing when there is none. */
function indexOf(lines: string[], re: RegExp): number {
  const i = lines.findIndex((l) => re.test(l));
  if (i < 0) throw new Error(`no rule matches ${re}:\n${lines.join('\n')}`);
  return i;
}

/** Every excluded port's RETURN comes before the first NFQUEUE rule. */
function expectReturnFirst(lines: string[]): void {
  const firstQueue = indexOf(lines, /-j NFQUEUE/);
  for (const spec of EXCLUDED) {
    const [port, proto] = spec.split('/');
    const ret = indexOf(lines, new RegExp(`-p ${proto} .*--dport ${port} -j RETURN`));
    expect(ret, `${spec} RETURN before NFQUEUE`).toBeLessThan(firstQueue);
  }
  // iptables -S shows --syn as --tcp-flags FIN,SYN,RST,ACK SYN.
  const syn = /-p tcp .*(--syn|--tcp-flags FIN,SYN,RST,ACK SYN) .*-j NFQUEUE --queue-num 14/;
  expect(lines.some((l) => syn.test(l))).toBe(true);
  expect(lines.some((l) => /-p udp .*NEW .*-j NFQUEUE --queue-num 14/.test(l))).toBe(true);
}

describe.each(BACKENDS)('honeytrap iptables, $backend backend', ({ backend, v4, v6 }) => {
  test('prints the RETURN of every excluded port before the NFQUEUE rules, for v4 and v6', async () => {
    const { net } = env();
    const { configPath } = await configFor(backend);
    const r = await iptablesCommand(net, configPath, []);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    for (const bin of [v4, v6]) expectReturnFirst(lines.filter((l) => l.startsWith(`${bin} `)));
    // Printing changes nothing.
    const s = await net.mustExec(net.honeypot, [v4, '-S']);
    expect(s.stdout).not.toContain('HONEYTRAP');
  });

  test('--apply refuses when SSH_CONNECTION names a port that is not excluded', async () => {
    const { net } = env();
    const { configPath } = await configFor(backend);
    const r = await iptablesCommand(net, configPath, ['--apply'], {
      ...envWithoutSsh(),
      SSH_CONNECTION: '10.99.250.1 51234 10.99.250.2 2200',
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/refusing/);
    expect(r.stderr + r.stdout).toContain('2200/tcp');
    for (const bin of [v4, v6]) {
      const s = await net.mustExec(net.honeypot, [bin, '-S']);
      expect(s.stdout, `${bin} after a refused --apply`).not.toContain('HONEYTRAP');
    }
  });

  test('--apply installs RETURN before NFQUEUE (v4 and v6); --remove leaves no HONEYTRAP chain', async () => {
    const { net } = env();
    const { configPath } = await configFor(backend);
    // An SSH session on an excluded port is fine.
    const r = await iptablesCommand(net, configPath, ['--apply'], {
      ...envWithoutSsh(),
      SSH_CONNECTION: '10.99.250.1 51234 10.99.250.2 2222',
    });
    expect(r.code, r.stderr).toBe(0);
    try {
      for (const bin of [v4, v6]) {
        const chain = await net.mustExec(net.honeypot, [bin, '-S', 'HONEYTRAP']);
        expectReturnFirst(chain.stdout.split('\n'));
        const input = await net.mustExec(net.honeypot, [bin, '-S', 'INPUT']);
        expect(input.stdout).toMatch(/-A INPUT ! -i lo -j HONEYTRAP/);
      }
      // Applying twice replaces ours instead of stacking a second jump.
      const again = await iptablesCommand(net, configPath, ['--apply']);
      expect(again.code, again.stderr).toBe(0);
      const input = await net.mustExec(net.honeypot, [v4, '-S', 'INPUT']);
      expect(input.stdout.match(/-j HONEYTRAP/g)).toHaveLength(1);
    } finally {
      const rm = await iptablesCommand(net, configPath, ['--remove']);
      expect(rm.code, rm.stderr).toBe(0);
    }
    for (const bin of [v4, v6]) {
      const s = await net.mustExec(net.honeypot, [bin, '-S']);
      expect(s.stdout, `${bin} -S after --remove`).not.toContain('HONEYTRAP');
    }
  });
});
