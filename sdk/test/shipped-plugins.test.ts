// The plugins shipped in plugins/: every folder there with a plugin.json is
// built, validated and tested with the honeytrap-plugin command, exactly as
// its author runs it (`honeytrap-plugin build DIR`, `validate DIR`,
// `test DIR`). A plugin added to plugins/ is picked up without touching this
// file. Runs the SDK from dist/ (npm run build first, as `npm test` does).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const SDK = fileURLToPath(new URL('..', import.meta.url));
const REPO = join(SDK, '..');
const BIN = join(SDK, 'bin', 'honeytrap-plugin.js');
const PLUGINS = join(REPO, 'plugins');

const shipped = existsSync(PLUGINS)
  ? readdirSync(PLUGINS, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(PLUGINS, e.name, 'plugin.json')))
      .map((e) => join(PLUGINS, e.name))
      .sort()
  : [];

interface Run {
  code: number;
  output: string;
}

function honeytrapPlugin(command: string, dir: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, command, dir],
      { cwd: REPO, maxBuffer: 64 << 20, timeout: 240_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        const output = `$ honeytrap-plugin ${command} ${relative(REPO, dir)}\n${stdout}${stderr}${
          err && typeof err.code !== 'number' ? `\n${err.message}` : ''
        }`;
        resolve({ code, output });
      },
    );
  });
}

test('plugins/ holds plugins', () => {
  expect(shipped.length).toBeGreaterThan(0);
});

// The plugins run side by side; each one's steps run in order, and a failed
// step ends that plugin's test with the step's output.
for (const dir of shipped) {
  test.concurrent(
    `plugins/${relative(PLUGINS, dir)}: build, validate, test`,
    async () => {
      for (const command of ['build', 'validate', 'test']) {
        const r = await honeytrapPlugin(command, dir);
        expect(r.code, r.output).toBe(0);
      }
    },
    300_000,
  );
}
