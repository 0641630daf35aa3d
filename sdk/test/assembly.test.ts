// The SDK's AssemblyScript library (sdk/assembly, imported by wasm plugins as
// @honeytrap/sdk/assembly): reading the task JSON (escapes, nesting, numbers,
// base64) and writing findings JSON (quotes, control characters), run in the
// daemon's wasm engine through the harness.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildPlugin } from '../src/cli/build.js';
import { newPlugin } from '../src/cli/new.js';
import { attackFixture, loadPlugin, type PluginUnderTest } from '../src/index.js';
import { collector, removeTempDirs, tempDir } from './helpers.js';

const SOURCE = `import {
  Meta, artifact, artifactBytes, base64Decode, base64Encode, finding, isArtifactTask, jsonBool,
  jsonLocate, jsonNumber, jsonRaw, jsonString, latin1, log, output, receivedBytes, receivedText,
  sentBytes, taskBytes,
} from "@honeytrap/sdk/assembly";

export function analyze(input: string): string {
  const f = new Array<string>();
  const marker = jsonString(input, "config.marker");
  f.push(finding("note", marker === null ? "<none>" : marker));
  f.push(finding("note", jsonNumber(input, "attack.local.port").toString()));
  f.push(finding("note", jsonNumber(input, "config.missing", -1).toString()));
  const nested = jsonRaw(input, "config.nested");
  f.push(finding("note", nested === null ? "<none>" : nested));
  const text = receivedText(input);
  f.push(finding("x-received", text, 0));
  f.push(finding("x-length", receivedBytes(input).length.toString()));
  f.push(finding("x-sent", latin1(sentBytes(input))));
  f.push(finding("x-artifact", latin1(artifactBytes(input))));
  f.push(finding("x-task", (isArtifactTask(input) ? "artifact:" : "attack:") + latin1(taskBytes(input))));
  f.push(finding("x-bool", jsonBool(input, "config.flag").toString() + " " + jsonBool(input, "config.marker", true).toString()));
  const found = jsonLocate(input, "attack.received.data") >= 0 && jsonLocate(input, "attack.nope") < 0;
  f.push(finding("x-locate", found ? "yes" : "no"));
  f.push(finding("x-urlsafe", latin1(base64Decode("-_8="))));
  const meta = new Meta().str("s", 'a"b').num("n", -42).bool("b", false).append(new Meta().num("m", 1));
  f.push(finding("x-meta", "v", 3, meta));
  log("done");
  const sent = sentBytes(input);
  const arts = [artifact(receivedBytes(input)), artifact(base64Decode(base64Encode(sent)), "text/plain")];
  return output(f, sent.length > 0 ? arts : null);
}
`;

let plugin: PluginUnderTest;

beforeAll(async () => {
  const dir = await newPlugin(
    'wasm',
    'as-helpers',
    { dir: tempDir(), build: false },
    collector().out,
  );
  writeFileSync(join(dir, 'assembly', 'index.ts'), SOURCE);
  writeFileSync(
    join(dir, 'plugin.json'),
    JSON.stringify({
      manifestVersion: 1,
      name: 'as-helpers',
      version: '1.0.0',
      hostApi: '^1.0.0',
      engine: 'wasm',
      entry: 'build/as-helpers.wasm',
      consumes: { attacks: { minBytes: 0 } },
      capabilities: { findings: true, artifacts: true },
    }),
  );
  await buildPlugin(dir, collector().out);
  plugin = await loadPlugin(dir, {
    config: {
      nested: { a: [1, { b: '}' }], c: 'x' },
      marker: 'q"uote\\ \n tab\t \u00e9 \u2603 \u0001',
      flag: true,
    },
  });
}, 60_000);

afterAll(async () => {
  await plugin?.close();
  removeTempDirs();
});

describe('@honeytrap/sdk/assembly', () => {
  test('reads strings with escapes, numbers, nested values and base64, and writes valid JSON', async () => {
    const bytes = Buffer.from([0x41, 0x00, 0x22, 0x5c, 0x0a, 0xff, 0x1f]);
    const out = await plugin.run(attackFixture({ received: bytes, sent: 'OK', port: 2323 }));
    expect(out.findings).toEqual([
      { type: 'note', value: 'q"uote\\ \n tab\t \u00e9 \u2603 \u0001' },
      { type: 'note', value: '2323.0' },
      { type: 'note', value: '-1.0' },
      { type: 'note', value: '{"a":[1,{"b":"}"}],"c":"x"}' },
      { type: 'x-received', value: bytes.toString('latin1'), offset: 0 },
      { type: 'x-length', value: '7' },
      { type: 'x-sent', value: 'OK' },
      { type: 'x-artifact', value: '' },
      { type: 'x-task', value: `attack:${bytes.toString('latin1')}` },
      { type: 'x-bool', value: 'true true' },
      { type: 'x-locate', value: 'yes' },
      { type: 'x-urlsafe', value: Buffer.from('-_8=', 'base64url').toString('latin1') },
      { type: 'x-meta', value: 'v', offset: 3, meta: { s: 'a"b', n: -42, b: false, m: 1 } },
    ]);
    expect(out.artifacts).toEqual([
      { contentType: 'application/octet-stream', data: bytes.toString('base64') },
      { contentType: 'text/plain', data: Buffer.from('OK').toString('base64') },
    ]);
    expect(plugin.logs).toContain('done');
  });

  test('base64Encode pads every length; output() without artifacts gives none', async () => {
    for (const n of [1, 2, 3, 4, 5, 255]) {
      const sent = Buffer.alloc(n).map((_, i) => (i * 37 + 11) & 0xff);
      const out = await plugin.run(attackFixture({ received: 'x', sent }));
      expect(out.artifacts[1]?.data).toBe(sent.toString('base64'));
    }
    const none = await plugin.run(attackFixture({ received: 'x' }));
    expect(none.artifacts).toEqual([]);
  });

  test('decodes every base64 length and the artifact of an artifact task', async () => {
    for (const n of [0, 1, 2, 3, 4, 5, 100, 4099]) {
      const bytes = Buffer.alloc(n, 0).map((_, i) => (i * 7 + 3) & 0xff);
      const attack = attackFixture({ received: bytes });
      const out = await plugin.run(attack);
      expect(out.findings.find((f) => f.type === 'x-length')?.value).toBe(String(n));
      expect(out.findings.find((f) => f.type === 'x-received')?.value).toBe(
        Buffer.from(bytes).toString('latin1'),
      );
    }
    const art = await plugin.runArtifact({ data: 'MZ\u0090' }, attackFixture({ received: 'x' }), {
      ignoreFilters: true,
    });
    expect(art.findings.find((f) => f.type === 'x-artifact')?.value).toBe('MZ\u00c2\u0090');
    expect(art.findings.find((f) => f.type === 'x-task')?.value).toBe('artifact:MZ\u00c2\u0090');
  });
});
