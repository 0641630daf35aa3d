// Port specs ("2323", "20000-20099") and their expansion into per-port settings.
import { describe, expect, it } from 'vitest';
import { expandPorts, parsePortSpec, portKey } from '../src/config/ports.js';
import { validateConfig, type ResolvedConfig } from '../src/config/validate.js';

function resolved(doc: unknown): ResolvedConfig {
  const r = validateConfig(doc);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}

describe('parsePortSpec', () => {
  it('reads a single port, as a number or a string', () => {
    expect(parsePortSpec(2323)).toEqual({ from: 2323, to: 2323 });
    expect(parsePortSpec('8080')).toEqual({ from: 8080, to: 8080 });
    expect(parsePortSpec(1)).toEqual({ from: 1, to: 1 });
    expect(parsePortSpec('65535')).toEqual({ from: 65535, to: 65535 });
  });

  it('reads an inclusive range', () => {
    expect(parsePortSpec('20000-20099')).toEqual({ from: 20000, to: 20099 });
    expect(parsePortSpec('7-7')).toEqual({ from: 7, to: 7 });
    expect(parsePortSpec('1-65535')).toEqual({ from: 1, to: 65535 });
  });

  it('refuses ports outside 1-65535', () => {
    expect(parsePortSpec(0)).toEqual({ error: '0 is not a port number (1-65535)' });
    expect(parsePortSpec('65536')).toEqual({ error: '65536 is not a port number (1-65535)' });
    expect(parsePortSpec('100-70000')).toEqual({ error: '70000 is not a port number (1-65535)' });
    expect(parsePortSpec(80.5)).toEqual({ error: '80.5 is not a port number (1-65535)' });
  });

  it('refuses an empty range', () => {
    expect(parsePortSpec('3000-2000')).toEqual({
      error: 'range 3000-2000 is empty (start after end)',
    });
  });

  it('refuses text that is not a port', () => {
    expect(parsePortSpec('http')).toHaveProperty('error');
    expect(parsePortSpec('')).toHaveProperty('error');
  });
});

describe('expandPorts', () => {
  it('gives one entry per port and protocol of a range', () => {
    const ports = expandPorts(
      resolved({ ports: [{ port: '20000-20002' }, { port: 20001, proto: 'udp' }] }),
    );
    expect([...ports.keys()]).toEqual(['20000/tcp', '20001/tcp', '20002/tcp', '20001/udp']);
    expect(ports.get('20002/tcp')?.port).toBe(20002);
    expect(ports.get('20001/udp')?.proto).toBe('udp');
    expect(portKey(20001, 'udp')).toBe('20001/udp');
  });

  it('uses the defaults where an entry sets nothing, and the entry where it does', () => {
    const ports = expandPorts(
      resolved({
        defaults: { mode: 'ignore', readLimit: 100, idleTimeoutMs: 1000, sessionTimeoutMs: 5000 },
        ports: [
          { port: '3000-3001' },
          { port: 2323, mode: 'normal', template: '23_tcp', readLimit: 0 },
          { port: 5060, proto: 'udp', idleTimeoutMs: 200, sessionTimeoutMs: 300 },
        ],
      }),
    );
    expect(ports.get('3001/tcp')).toEqual({
      port: 3001,
      proto: 'tcp',
      mode: 'ignore',
      template: undefined,
      readLimit: 100,
      idleTimeoutMs: 1000,
      sessionTimeoutMs: 5000,
    });
    expect(ports.get('2323/tcp')).toEqual({
      port: 2323,
      proto: 'tcp',
      mode: 'normal',
      template: '23_tcp',
      readLimit: 0,
      idleTimeoutMs: 1000,
      sessionTimeoutMs: 5000,
    });
    expect(ports.get('5060/udp')).toEqual({
      port: 5060,
      proto: 'udp',
      mode: 'ignore',
      template: undefined,
      readLimit: 100,
      idleTimeoutMs: 200,
      sessionTimeoutMs: 300,
    });
  });

  it('refuses a config whose port spec is invalid', () => {
    const config = resolved({ ports: [{ port: 1 }] });
    config.ports.push({ port: '9-8', proto: 'tcp' });
    expect(() => expandPorts(config)).toThrow('invalid port spec 9-8: range 9-8 is empty');
  });
});
