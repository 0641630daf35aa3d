// Config validation: the embedded default, defaults applied, and the exact
// message for each kind of bad config.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultConfigText } from '../src/config/default.js';
import { loadConfig, parseConfigText } from '../src/config/load.js';
import { expandPorts, MAX_LISTEN_PORTS } from '../src/config/ports.js';
import { validateConfig, type ResolvedConfig } from '../src/config/validate.js';
import { HoneytrapError } from '../src/errors.js';
import { paths } from '../src/paths.js';

function valid(doc: unknown): ResolvedConfig {
  const r = validateConfig(doc);
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.errors.join('\n')}`);
  return r.config;
}

function errorsOf(doc: unknown): string[] {
  const r = validateConfig(doc);
  if (r.ok) throw new Error('expected the config to be refused');
  return r.errors;
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  definitions?: Record<string, SchemaNode>;
  default?: unknown;
}

const schema = JSON.parse(
  readFileSync(join(paths.schemas, 'config.schema.json'), 'utf8'),
) as SchemaNode;

/** The keys an unknown-property message must list for an object in the schema. */
function allowed(node: SchemaNode | undefined): string {
  const keys = Object.keys(node?.properties ?? {});
  expect(keys.length).toBeGreaterThan(0);
  return keys.join(', ');
}

/** What an empty object resolves to under `node`: its properties' defaults, recursively. */
function schemaDefaults(node: SchemaNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(node.properties ?? {})) {
    if (!('default' in prop)) continue;
    out[key] = prop.properties
      ? { ...(prop.default as object), ...schemaDefaults(prop) }
      : structuredClone(prop.default);
  }
  return out;
}

/** The error a call throws, checked to be a HoneytrapError. */
function thrown(fn: () => unknown): HoneytrapError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HoneytrapError);
    return err as HoneytrapError;
  }
  throw new Error('expected an error');
}

describe('the embedded default config', () => {
  it('is valid and traps the documented high ports', () => {
    const config = valid(parse(defaultConfigText()));
    expect(config.capture).toMatchObject({ type: 'listen', addresses: ['::'] });
    expect([...expandPorts(config).keys()].sort()).toEqual(
      ['2121/tcp', '2222/tcp', '2323/tcp', '2525/tcp', '4445/tcp', '5060/udp', '8080/tcp'].sort(),
    );
  });

  it('is what loadConfig() returns without a file', async () => {
    const loaded = await loadConfig();
    expect(loaded.source).toBe('(embedded default)');
    expect(loaded.config.ports.find((p) => p.port === 2323)).toEqual({
      port: 2323,
      proto: 'tcp',
      template: '23_tcp',
    });
  });
});

describe('defaults', () => {
  it('fills in every property that has a default', () => {
    const config = valid({ ports: [{ port: 2323 }] });
    expect(config).toEqual({ ...schemaDefaults(schema), ports: [{ port: 2323, proto: 'tcp' }] });
    expect(config).toMatchObject({
      sensor: '',
      capture: { type: 'listen', addresses: ['::'] },
      defaults: {
        mode: 'normal',
        readLimit: 1048576,
        idleTimeoutMs: 10000,
        sessionTimeoutMs: 120000,
      },
      templates: { dirs: [], builtin: true },
      store: { path: '', batchSize: 256, flushIntervalMs: 20 },
      log: { level: 'info', format: 'auto' },
      control: { socket: '' },
    });
  });

  it('resolves a bare port to the default session settings', () => {
    expect(expandPorts(valid({ ports: [{ port: 2323 }] })).get('2323/tcp')).toEqual({
      port: 2323,
      proto: 'tcp',
      mode: 'normal',
      template: undefined,
      readLimit: 1048576,
      idleTimeoutMs: 10000,
      sessionTimeoutMs: 120000,
    });
  });

  it('keeps what the config sets', () => {
    const config = valid({
      sensor: 'edge-1',
      defaults: { mode: 'ignore', readLimit: 0 },
      ports: [{ port: '5060', proto: 'udp' }],
      store: { batchSize: 1 },
    });
    expect(config.sensor).toBe('edge-1');
    expect(config.defaults).toEqual({
      mode: 'ignore',
      readLimit: 0,
      idleTimeoutMs: 10000,
      sessionTimeoutMs: 120000,
    });
    expect(config.store).toEqual({ path: '', batchSize: 1, flushIntervalMs: 20 });
  });

  it('does not modify the document it is given, nor share defaults between results', () => {
    const doc = { ports: [{ port: 2323 }] };
    const a = valid(doc);
    expect(doc).toEqual({ ports: [{ port: 2323 }] });
    a.capture.addresses.push('127.0.0.1');
    expect(valid(doc).capture.addresses).toEqual(['::']);
  });

  it('refuses a listen config without ports, accepts an nfqueue one', () => {
    expect(errorsOf({})).toEqual([
      '/ports: the listen capture traps only the ports listed here, and none is (add ports, or use capture.type nfqueue)',
    ]);
    expect(valid({ capture: { type: 'nfqueue' } }).ports).toEqual([]);
  });
});

describe('schema errors', () => {
  it('names an unknown key at the top level with the allowed keys', () => {
    const top = allowed(schema);
    expect(top).toMatch(/^sensor, capture, defaults, ports, /);
    expect(errorsOf({ listen: [2323] })).toEqual([`/listen: unknown property (allowed: ${top})`]);
  });

  it('names an unknown key at any level with the allowed keys', () => {
    const props = schema.properties ?? {};
    expect(allowed(props.capture)).toMatch(/^type, addresses\b/);
    expect(errorsOf({ capture: { kind: 'listen' } })).toEqual([
      `/capture/kind: unknown property (allowed: ${allowed(props.capture)})`,
    ]);
    expect(errorsOf({ defaults: { readlimit: 5 } })).toEqual([
      `/defaults/readlimit: unknown property (allowed: ${allowed(props.defaults)})`,
    ]);
    expect(errorsOf({ store: { dir: '/x' } })).toEqual([
      `/store/dir: unknown property (allowed: ${allowed(props.store)})`,
    ]);
    expect(errorsOf({ log: { level: 'info', colour: true } })).toEqual([
      `/log/colour: unknown property (allowed: ${allowed(props.log)})`,
    ]);
    expect(errorsOf({ ports: [{ port: 1 }, { port: 2, protocol: 'udp' }] })).toEqual([
      `/ports/1/protocol: unknown property (allowed: ${allowed(schema.definitions?.portEntry)})`,
    ]);
    expect(allowed(schema.definitions?.portEntry)).toMatch(/^port, proto, mode, template, /);
  });

  it('lists the values of an enum', () => {
    expect(
      errorsOf({ ports: [{ port: 1 }, { port: 2 }, { port: 3 }, { port: 4, mode: 'tarpit' }] }),
    ).toEqual(['/ports/3/mode: must be one of normal, ignore, mirror, proxy']);
    expect(errorsOf({ ports: [{ port: 1, proto: 'sctp' }] })).toEqual([
      '/ports/0/proto: must be one of tcp, udp',
    ]);
    expect(errorsOf({ log: { level: 'verbose' } })).toEqual([
      '/log/level: must be one of fatal, error, warn, info, debug, trace, silent',
    ]);
  });

  it('names the expected type', () => {
    expect(errorsOf({ defaults: { readLimit: '1MB' } })).toEqual([
      '/defaults/readLimit: must be integer',
    ]);
    expect(errorsOf({ ports: [{ port: true }] })).toEqual([
      '/ports/0/port: must be integer or string',
    ]);
    expect(errorsOf({ ports: { port: 1 } })).toEqual(['/ports: must be array']);
    expect(errorsOf('listen')).toEqual(['/: must be object']);
    expect(errorsOf([])).toEqual(['/: must be object']);
  });

  it('gives the bound that a number is outside of', () => {
    expect(errorsOf({ defaults: { idleTimeoutMs: 5 } })).toEqual([
      '/defaults/idleTimeoutMs: must be >= 100 (got 5)',
    ]);
    expect(errorsOf({ defaults: { sessionTimeoutMs: 86400001 } })).toEqual([
      '/defaults/sessionTimeoutMs: must be <= 86400000 (got 86400001)',
    ]);
    expect(errorsOf({ store: { batchSize: 0 } })).toEqual([
      '/store/batchSize: must be >= 1 (got 0)',
    ]);
    expect(errorsOf({ ports: [{ port: 1, readLimit: -1 }] })).toEqual([
      '/ports/0/readLimit: must be >= 0 (got -1)',
    ]);
  });

  it('explains the port pattern', () => {
    expect(errorsOf({ ports: [{ port: '80,443' }] })).toEqual([
      '/ports/0/port: must be a port (2323) or a range ("20000-20099")',
    ]);
    expect(errorsOf({ ports: [{ port: '1000-' }] })).toEqual([
      '/ports/0/port: must be a port (2323) or a range ("20000-20099")',
    ]);
  });

  it('requires a port in every entry', () => {
    expect(errorsOf({ ports: [{ proto: 'udp' }] })).toEqual(['/ports/0/port: is required']);
  });

  it('reports every schema error at once, in document order', () => {
    expect(
      errorsOf({
        colour: 'blue',
        defaults: { mode: 'fast', readLimit: 1.5 },
        ports: [{ port: 0 }, { port: 'x' }],
      }),
    ).toEqual([
      `/colour: unknown property (allowed: ${allowed(schema)})`,
      '/defaults/mode: must be one of normal, ignore, mirror, proxy',
      '/defaults/readLimit: must be integer',
      '/ports/0/port: 0 is not a port number (1-65535)',
      '/ports/1/port: must be a port (2323) or a range ("20000-20099")',
    ]);
  });
});

describe('semantic errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ht-config-'));
    await writeFile(join(dir, 'banner_tcp'), 'hello\r\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a port number out of range, as a number or as text', () => {
    expect(errorsOf({ ports: [{ port: 0 }] })).toEqual([
      '/ports/0/port: 0 is not a port number (1-65535)',
    ]);
    expect(errorsOf({ ports: [{ port: 65536 }] })).toEqual([
      '/ports/0/port: 65536 is not a port number (1-65535)',
    ]);
    expect(errorsOf({ ports: [{ port: '70000' }] })).toEqual([
      '/ports/0/port: 70000 is not a port number (1-65535)',
    ]);
    expect(errorsOf({ ports: [{ port: '0-10' }] })).toEqual([
      '/ports/0/port: 0 is not a port number (1-65535)',
    ]);
  });

  it('refuses an empty range', () => {
    expect(errorsOf({ ports: [{ port: '3000-2000' }] })).toEqual([
      '/ports/0/port: range 3000-2000 is empty (start after end)',
    ]);
  });

  it('names the earlier entry an overlapping port collides with', () => {
    expect(
      errorsOf({
        ports: [{ port: '2000-2010' }, { port: 2005, proto: 'udp' }, { port: 2005 }],
      }),
    ).toEqual(['/ports/2/port: 2005/tcp is already configured by /ports/0']);
    expect(errorsOf({ ports: [{ port: 9 }, { port: '1-100', proto: 'tcp' }] })).toEqual([
      '/ports/1/port: 9/tcp is already configured by /ports/0',
    ]);
  });

  it('accepts the same port once per protocol', () => {
    expect(valid({ ports: [{ port: 53 }, { port: 53, proto: 'udp' }] }).ports).toHaveLength(2);
  });

  it('refuses a template that no folder has', () => {
    expect(errorsOf({ ports: [{ port: 2323, template: '23_tcpx' }] })).toEqual([
      `/ports/0/template: no template "23_tcpx" in ${paths.builtinTemplates}`,
    ]);
    expect(
      errorsOf({
        templates: { dirs: [dir], builtin: false },
        ports: [{ port: 2323, template: '23_tcp' }],
      }),
    ).toEqual([`/ports/0/template: no template "23_tcp" in ${dir}`]);
    expect(
      errorsOf({ templates: { builtin: false }, ports: [{ port: 1, template: 'banner_tcp' }] }),
    ).toEqual(['/ports/0/template: no template "banner_tcp" in (no template folders)']);
  });

  it('finds a template in a configured folder', () => {
    expect(
      valid({ templates: { dirs: [dir] }, ports: [{ port: 1, template: 'banner_tcp' }] }).ports,
    ).toEqual([{ port: 1, proto: 'tcp', template: 'banner_tcp' }]);
  });

  it('refuses a templates folder that does not exist', () => {
    const missing = join(dir, 'missing');
    const file = join(dir, 'banner_tcp');
    expect(errorsOf({ ports: [{ port: 1 }], templates: { dirs: [dir, missing, file] } })).toEqual([
      `/templates/dirs/1: folder "${missing}" does not exist`,
      `/templates/dirs/2: folder "${file}" does not exist`,
    ]);
  });

  it('refuses an address that is not IPv4 or IPv6', () => {
    expect(
      errorsOf({
        ports: [{ port: 1 }],
        capture: { addresses: ['0.0.0.0', 'localhost', '::1', '1.2.3.256'] },
      }),
    ).toEqual([
      '/capture/addresses/1: "localhost" is not an IPv4 or IPv6 address',
      '/capture/addresses/3: "1.2.3.256" is not an IPv4 or IPv6 address',
    ]);
  });

  it(`refuses more than ${MAX_LISTEN_PORTS} listen ports`, () => {
    expect(MAX_LISTEN_PORTS).toBe(16384);
    expect(
      valid({ ports: [{ port: '1-16383' }, { port: 20000, proto: 'udp' }] }).ports,
    ).toHaveLength(2);
    expect(errorsOf({ ports: [{ port: '1-16384' }, { port: 20000, proto: 'udp' }] })).toEqual([
      "/ports: 16385 ports exceed the listen capture's limit of 16384 sockets (use the nfqueue capture to trap every port)",
    ]);
  });

  it('refuses proxy mode without a target', () => {
    expect(valid({ ports: [{ port: 1, mode: 'mirror' }] }).ports[0]?.mode).toBe('mirror');
    expect(errorsOf({ defaults: { mode: 'proxy' }, ports: [{ port: 1 }] })).toEqual([
      '/defaults/proxy: proxy mode needs a target (defaults.proxy.target)',
      '/ports/0/proxy: proxy mode needs a target: set proxy.target here or in defaults.proxy',
    ]);
    expect(errorsOf({ ports: [{ port: 1 }, { port: 2, mode: 'proxy' }] })).toEqual([
      '/ports/1/proxy: proxy mode needs a target: set proxy.target here or in defaults.proxy',
    ]);
  });

  it('reports every semantic error at once', () => {
    expect(
      errorsOf({
        capture: { addresses: ['nowhere'] },
        templates: { dirs: [join(dir, 'gone')] },
        ports: [{ port: '3000-2000' }, { port: 80, template: 'nope' }, { port: 80 }],
      }),
    ).toEqual([
      '/capture/addresses/0: "nowhere" is not an IPv4 or IPv6 address',
      `/templates/dirs/0: folder "${join(dir, 'gone')}" does not exist`,
      '/ports/0/port: range 3000-2000 is empty (start after end)',
      `/ports/1/template: no template "nope" in ${join(dir, 'gone')}, ${paths.builtinTemplates}`,
      '/ports/2/port: 80/tcp is already configured by /ports/1',
    ]);
  });
});

describe('parseConfigText', () => {
  it('reads YAML and JSON', () => {
    const yaml = parseConfigText('sensor: lab\nports:\n  - port: 2323\n', 'lab.yaml');
    const json = parseConfigText('{"sensor": "lab", "ports": [{"port": 2323}]}', 'lab.json');
    expect(json).toEqual(yaml);
    expect(yaml.sensor).toBe('lab');
    expect(yaml.defaults.readLimit).toBe(1048576);
  });

  it('refuses an empty file: it would trap nothing', () => {
    const err = thrown(() => parseConfigText('# nothing\n', 'empty.yaml'));
    expect(err.code).toBe('HT_CONFIG_INVALID');
    expect(err.details).toEqual([
      '/ports: the listen capture traps only the ports listed here, and none is (add ports, or use capture.type nfqueue)',
    ]);
  });

  it('gives file:line:col for a YAML syntax error', () => {
    const err = thrown(() =>
      parseConfigText('sensor: lab\nports:\n  - port: [2323\n  - port: 80\n', 'bad.yaml'),
    );
    expect(err.code).toBe('HT_CONFIG_PARSE');
    expect(err.message).toBe('config bad.yaml is not valid YAML/JSON');
    expect(err.file).toBe('bad.yaml');
    expect(err.details.length).toBeGreaterThan(0);
    for (const d of err.details) expect(d).toMatch(/^bad\.yaml:\d+:\d+: \S/);
    expect(err.details[0]).toMatch(/^bad\.yaml:[34]:\d+: /);
  });

  it('refuses duplicate keys, naming where the duplicate is', () => {
    const err = thrown(() =>
      parseConfigText('sensor: a\nlog:\n  level: info\n  level: debug\n', 'dup.yaml'),
    );
    expect(err.code).toBe('HT_CONFIG_PARSE');
    expect(err.details).toEqual(['dup.yaml:4:3: Map keys must be unique']);
  });

  it('refuses an invalid config with every error as a detail', () => {
    const err = thrown(() =>
      parseConfigText('ports:\n  - port: 1\n    mode: tarpit\n  - port: 0\n', 'cfg.yaml'),
    );
    expect(err.code).toBe('HT_CONFIG_INVALID');
    expect(err.message).toBe('config cfg.yaml has 2 errors');
    expect(err.details).toEqual([
      '/ports/0/mode: must be one of normal, ignore, mirror, proxy',
      '/ports/1/port: 0 is not a port number (1-65535)',
    ]);
    expect(err.describe()).toBe(
      'config cfg.yaml has 2 errors\n' +
        '  /ports/0/mode: must be one of normal, ignore, mirror, proxy\n' +
        '  /ports/1/port: 0 is not a port number (1-65535)',
    );
  });

  it('says "1 error" for one', () => {
    expect(thrown(() => parseConfigText('bogus: 1\n', 'one.yaml')).message).toBe(
      'config one.yaml has 1 error',
    );
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ht-load-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file', async () => {
    const file = join(dir, 'honeytrap.yaml');
    await writeFile(file, 'ports:\n  - { port: "20000-20009", mode: ignore }\n');
    const loaded = await loadConfig(file);
    expect(loaded.source).toBe(file);
    expect(expandPorts(loaded.config).size).toBe(10);
  });

  it('says when the file does not exist', async () => {
    const file = join(dir, 'nope.yaml');
    await expect(loadConfig(file)).rejects.toMatchObject({
      name: 'HoneytrapError',
      code: 'HT_CONFIG_READ',
      message: `config ${file} cannot be read: does not exist`,
    });
  });
});
