// Issue 2: a bad config is refused with exit code 2 and a precise message per
// problem (JSON pointer: reason), by `config check` and by `run`, never a stack trace.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { honeytrap, stackLines } from './lib/cli.js';
import { BUILTIN_TEMPLATES, cleanup, makeTempDir, REPO } from './lib/daemon.js';

interface Kind {
  name: string;
  file: string;
  /** File content; undefined: the file does not exist. */
  text: string | undefined;
  /** stderr for FILE (the absolute path), exactly. */
  stderr: (file: string) => string;
}

// The allowed keys the messages list, read from the schema the daemon validates against.
const schema = JSON.parse(readFileSync(join(REPO, 'schemas', 'config.schema.json'), 'utf8')) as {
  properties: object;
  definitions: { portEntry: { properties: object } };
};
const topLevelKeys = Object.keys(schema.properties).join(', ');
const portEntryKeys = Object.keys(schema.definitions.portEntry.properties).join(', ');

const invalid = (file: string, ...lines: string[]) =>
  `honeytrap: config ${file} has ${lines.length} error${lines.length > 1 ? 's' : ''}\n` +
  lines.map((l) => `  ${l}\n`).join('');
const unparsable = (file: string, ...lines: string[]) =>
  `honeytrap: config ${file} is not valid YAML/JSON\n` + lines.map((l) => `  ${l}\n`).join('');

const kinds: Kind[] = [
  {
    name: 'YAML syntax error (tab indentation), with file:line:col',
    file: 'tab.yaml',
    text: 'sensor: test\nports:\n\t- port: 2323\n',
    stderr: (f) => unparsable(f, `${f}:3:1: Tabs are not allowed as indentation`),
  },
  {
    name: 'YAML duplicate key, with file:line:col',
    file: 'duplicate.yaml',
    text: 'sensor: a\nports: []\nsensor: b\n',
    stderr: (f) => unparsable(f, `${f}:3:1: Map keys must be unique`),
  },
  {
    name: 'JSON syntax error (unclosed object), with file:line:col',
    file: 'broken.json',
    text: '{\n  "sensor": "x",\n  "ports": [ {"port": 2323 ]\n}\n',
    stderr: (f) =>
      unparsable(
        f,
        `${f}:3:28: Flow map in block collection must be sufficiently indented and end with a }`,
        `${f}:3:29: Flow sequence in block collection must be sufficiently indented and end with a ]`,
        `${f}:4:1: Flow map must end with a }`,
      ),
  },
  {
    name: 'unknown top-level key',
    file: 'unknown-key.yaml',
    text: 'sensor: s\nlisten: [2323]\n',
    stderr: (f) => invalid(f, `/listen: unknown property (allowed: ${topLevelKeys})`),
  },
  {
    name: 'unknown key in a port entry',
    file: 'unknown-port-key.yaml',
    text: 'ports:\n  - { port: 2323, protocol: tcp }\n',
    stderr: (f) => invalid(f, `/ports/0/protocol: unknown property (allowed: ${portEntryKeys})`),
  },
  {
    name: 'mode not in the enum',
    file: 'mode.yaml',
    text: 'ports:\n  - { port: 2121 }\n  - { port: 2222 }\n  - { port: 2323 }\n  - { port: 2424, mode: tarpit }\n',
    stderr: (f) => invalid(f, '/ports/3/mode: must be one of normal, ignore, mirror, proxy'),
  },
  {
    name: 'port 70000',
    file: 'port-high.yaml',
    text: 'ports:\n  - { port: 70000 }\n',
    stderr: (f) => invalid(f, '/ports/0/port: 70000 is not a port number (1-65535)'),
  },
  {
    name: 'port "70000" as text',
    file: 'port-high-text.yaml',
    text: 'ports:\n  - { port: "70000" }\n',
    stderr: (f) => invalid(f, '/ports/0/port: 70000 is not a port number (1-65535)'),
  },
  {
    name: 'port of the wrong type (true)',
    file: 'port-bool.yaml',
    text: 'ports:\n  - { port: true }\n',
    stderr: (f) => invalid(f, '/ports/0/port: must be integer or string'),
  },
  {
    name: 'port text that is not a port or range',
    file: 'port-text.yaml',
    text: 'ports:\n  - { port: "telnet" }\n',
    stderr: (f) => invalid(f, '/ports/0/port: must be a port (2323) or a range ("20000-20099")'),
  },
  {
    name: 'empty range 3000-2000',
    file: 'range.yaml',
    text: 'ports:\n  - { port: "3000-2000" }\n',
    stderr: (f) => invalid(f, '/ports/0/port: range 3000-2000 is empty (start after end)'),
  },
  {
    name: 'two entries covering the same port and protocol',
    file: 'overlap.yaml',
    text: 'ports:\n  - { port: "3000-3010" }\n  - { port: 3005, proto: udp }\n  - { port: 3005 }\n',
    stderr: (f) => invalid(f, '/ports/2/port: 3005/tcp is already configured by /ports/0'),
  },
  {
    name: 'template that does not exist',
    file: 'template.yaml',
    text: 'ports:\n  - { port: 2323, template: 23_tpc }\n',
    stderr: (f) => invalid(f, `/ports/0/template: no template "23_tpc" in ${BUILTIN_TEMPLATES}`),
  },
  {
    name: 'negative readLimit',
    file: 'read-limit.yaml',
    text: 'defaults:\n  readLimit: -1\n',
    stderr: (f) => invalid(f, '/defaults/readLimit: must be >= 0 (got -1)'),
  },
  {
    name: 'capture address that is not an IP',
    file: 'address.yaml',
    text: 'capture:\n  addresses: ["127.0.0.1", "localhost"]\nports:\n  - { port: 2323 }\n',
    stderr: (f) => invalid(f, '/capture/addresses/1: "localhost" is not an IPv4 or IPv6 address'),
  },
  {
    name: 'port entry without port',
    file: 'no-port.yaml',
    text: 'ports:\n  - { proto: udp, template: 5060_udp }\n',
    stderr: (f) => invalid(f, '/ports/0/port: is required'),
  },
  {
    name: 'top level is a list',
    file: 'list.yaml',
    text: '- port: 2323\n- port: 2121\n',
    stderr: (f) => invalid(f, '/: must be object'),
  },
  {
    name: 'several problems at once, each listed by path',
    file: 'many.yaml',
    text: 'sensor: s\nextra: 1\ndefaults:\n  idleTimeoutMs: 5\nports:\n  - { port: 0 }\n  - { port: 2323, mode: fast }\n',
    stderr: (f) =>
      invalid(
        f,
        `/extra: unknown property (allowed: ${topLevelKeys})`,
        '/defaults/idleTimeoutMs: must be >= 100 (got 5)',
        '/ports/0/port: 0 is not a port number (1-65535)',
        '/ports/1/mode: must be one of normal, ignore, mirror, proxy',
      ),
  },
  {
    name: 'config file that does not exist',
    file: 'missing.yaml',
    text: undefined,
    stderr: (f) => `honeytrap: config ${f} cannot be read: does not exist\n`,
  },
];

let dir = '';

beforeAll(async () => {
  dir = await makeTempDir('honeytrap-config-');
  for (const k of kinds) if (k.text !== undefined) writeFileSync(join(dir, k.file), k.text);
});

afterAll(cleanup);

describe('bad config files', () => {
  test('cover at least 10 kinds', () => {
    expect(kinds.length).toBeGreaterThanOrEqual(10);
  });

  test.each(kinds)(
    '$name: config check and run both exit 2 with the precise message',
    async (k) => {
      const file = join(dir, k.file);
      const dataDir = join(dir, `store-${k.file}`);
      const env = { ...process.env, HONEYTRAP_DATA_DIR: dataDir };
      const [check, run] = await Promise.all([
        honeytrap(['config', 'check', file], { env }),
        honeytrap(['run', '--config', file], { env, timeoutMs: 15_000 }),
      ]);
      for (const r of [check, run]) {
        expect(r.stderr).toBe(k.stderr(file));
        expect(stackLines(r.stderr)).toEqual([]);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
      }
      // Refused before anything was opened.
      expect(existsSync(dataDir)).toBe(false);
    },
  );

  test('a valid config passes config check with exit 0', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(
      file,
      'ports:\n  - { port: "20000-20009" }\n  - { port: 5060, proto: udp, template: 5060_udp }\n',
    );
    const r = await honeytrap(['config', 'check', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `config ${file} is valid: listen capture, 11 ports (20000-20009/tcp, 5060/udp)\n`,
    );
  });
});
