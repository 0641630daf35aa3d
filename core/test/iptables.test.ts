import { describe, expect, it } from 'vitest';
import { buildRules, renderRules, safetyProblems } from '../src/capture/iptables.js';

const base = {
  queue: 3,
  bufferSize: 1 << 20,
  failOpen: true,
  reader: 'thread' as const,
  iptables: 'auto' as const,
  interface: '',
  excludePorts: ['22/tcp', '53/udp'],
};

describe('iptables rules', () => {
  it('returns excluded ports before anything goes to the queue', () => {
    const { rules, jump } = buildRules(base);
    const firstQueue = rules.findIndex((r) => r.includes('NFQUEUE'));
    const lastReturn = rules
      .map((r) => r.includes('--dport') && r.includes('RETURN'))
      .lastIndexOf(true);
    expect(lastReturn).toBeLessThan(firstQueue);
    expect(rules[0]).toEqual(['-A', 'HONEYTRAP', '-p', 'tcp', '--dport', '22', '-j', 'RETURN']);
    expect(rules[1]).toEqual(['-A', 'HONEYTRAP', '-p', 'udp', '--dport', '53', '-j', 'RETURN']);
    expect(jump).toEqual(['INPUT', '!', '-i', 'lo', '-j', 'HONEYTRAP']);
  });

  it('lets packets for ports that already have a listener skip the queue', () => {
    const { rules } = buildRules(base);
    const at = (needle: string[]) => rules.findIndex((r) => needle.every((n) => r.includes(n)));
    expect(rules).toContainEqual([
      '-A',
      'HONEYTRAP',
      '-p',
      'tcp',
      '--syn',
      '-m',
      'socket',
      '--nowildcard',
      '-j',
      'RETURN',
    ]);
    expect(rules).toContainEqual([
      '-A',
      'HONEYTRAP',
      '-p',
      'udp',
      '-m',
      'socket',
      '--nowildcard',
      '-j',
      'RETURN',
    ]);
    expect(at(['tcp', 'socket'])).toBeLessThan(at(['tcp', 'NFQUEUE']));
    expect(at(['udp', 'socket'])).toBeLessThan(at(['udp', 'NFQUEUE']));
  });

  it('queues TCP SYNs and new UDP flows, with --queue-bypass when failing open', () => {
    const { rules } = buildRules(base);
    expect(rules).toContainEqual([
      '-A',
      'HONEYTRAP',
      '-p',
      'tcp',
      '--syn',
      '-j',
      'NFQUEUE',
      '--queue-num',
      '3',
      '--queue-bypass',
    ]);
    expect(rules).toContainEqual([
      '-A',
      'HONEYTRAP',
      '-p',
      'udp',
      '-m',
      'conntrack',
      '--ctstate',
      'NEW',
      '-j',
      'NFQUEUE',
      '--queue-num',
      '3',
      '--queue-bypass',
    ]);
    expect(buildRules({ ...base, failOpen: false }).rules.flat()).not.toContain('--queue-bypass');
  });

  it('renders the same rules for iptables and ip6tables, for the chosen backend', () => {
    const legacy = renderRules({ ...base, iptables: 'legacy' }).split('\n');
    expect(legacy.filter((l) => l.startsWith('iptables-legacy '))).toHaveLength(8);
    expect(legacy.filter((l) => l.startsWith('ip6tables-legacy '))).toHaveLength(8);
    expect(renderRules({ ...base, iptables: 'nft', interface: 'eth0' })).toContain(
      'iptables-nft -I INPUT -i eth0 -j HONEYTRAP',
    );
  });

  it('refuses rules that would catch the SSH session it runs in', () => {
    expect(safetyProblems(base, { SSH_CONNECTION: '10.0.0.5 50000 10.0.0.1 22' })).toEqual([]);
    expect(safetyProblems(base, { SSH_CONNECTION: '10.0.0.5 50000 10.0.0.1 2200' })).toEqual([
      'the rules would catch 2200/tcp, the port of this SSH session; add "2200/tcp" to capture.nfqueue.excludePorts',
    ]);
  });
});
