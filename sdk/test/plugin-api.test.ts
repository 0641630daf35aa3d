// definePlugin's types and the run-time helpers plugins bundle.
import { describe, expect, expectTypeOf, test } from 'vitest';
import {
  artifact,
  artifactBytes,
  attackFixture,
  definePlugin,
  finding,
  receivedBytes,
  receivedText,
  sentBytes,
  type Attack,
  type FetchResponse,
  type Finding,
  type PluginOutput,
} from '../src/index.js';

describe('definePlugin', () => {
  test('returns the plugin unchanged, with input, ctx and the result typed', async () => {
    const plugin = definePlugin<{ marker: string }>({
      analyze(input, ctx) {
        expectTypeOf(input.attack).toEqualTypeOf<Attack>();
        expectTypeOf(input.kind).toEqualTypeOf<'attack' | 'artifact'>();
        expectTypeOf(input.config.marker).toEqualTypeOf<string>();
        expectTypeOf(ctx.config.marker).toEqualTypeOf<string>();
        expectTypeOf(ctx.log).toEqualTypeOf<(message: string) => void>();
        expectTypeOf(ctx.fetch).returns.toEqualTypeOf<Promise<FetchResponse>>();
        const at = receivedText(input.attack).indexOf(ctx.config.marker);
        return { findings: at < 0 ? [] : [finding('x-marker', ctx.config.marker, at)] };
      },
    });
    const ctx = {
      config: { marker: 'ACME' },
      log: () => undefined,
      fetch: () => Promise.reject(new Error('no network')),
    };
    const attack = attackFixture({ received: 'hello ACME' });
    const out = await plugin.analyze(
      { kind: 'attack', attack, config: ctx.config, results: {} },
      ctx,
    );
    expect(out).toEqual({ findings: [{ type: 'x-marker', value: 'ACME', offset: 6 }] });
  });

  test('finding types are checked at compile time', () => {
    expectTypeOf(finding)
      .parameter(0)
      .toEqualTypeOf<
        | 'url'
        | 'decoded-payload'
        | 'hash'
        | 'signature'
        | 'command'
        | 'download'
        | 'file-type'
        | 'note'
        | `x-${string}`
      >();
    // @ts-expect-error: not a finding type the host accepts
    finding('whatever', 'x');
    expectTypeOf(finding('url', 'http://x/')).toEqualTypeOf<Finding>();
  });

  test('analyze may return nothing, an output or a promise of one', () => {
    definePlugin({ analyze: () => undefined });
    definePlugin({ analyze: (): Promise<PluginOutput> => Promise.resolve({ findings: [] }) });
    // @ts-expect-error: findings must be Finding objects
    definePlugin({ analyze: () => ({ findings: ['x'] }) });
  });
});

describe('helpers', () => {
  const attack = attackFixture({ received: Buffer.from([0x41, 0xff, 0x00]), sent: 'OK' });

  test('receivedBytes and sentBytes decode base64', () => {
    expect(receivedBytes(attack)).toEqual(Buffer.from([0x41, 0xff, 0x00]));
    expect(sentBytes(attack).toString()).toBe('OK');
  });

  test('receivedText is latin1 by default: one character per byte', () => {
    expect(receivedText(attack)).toBe('A\u00ff\u0000');
    expect(receivedText(attack).length).toBe(3);
  });

  test('finding leaves out what is not given', () => {
    expect(finding('hash', 'abc')).toEqual({ type: 'hash', value: 'abc' });
    expect(finding('note', 'n', 0, { k: 1 })).toEqual({
      type: 'note',
      value: 'n',
      offset: 0,
      meta: { k: 1 },
    });
  });

  test('artifact encodes bytes or text as base64', () => {
    expect(artifact('#!/bin/sh\n', { name: 'x.sh', contentType: 'text/x-shellscript' })).toEqual({
      data: Buffer.from('#!/bin/sh\n').toString('base64'),
      name: 'x.sh',
      contentType: 'text/x-shellscript',
    });
    expect(artifact(new Uint8Array([1, 2]))).toEqual({ data: 'AQI=' });
  });

  test('artifactBytes is the artifact of an artifact task', () => {
    expect(artifactBytes({})).toBeUndefined();
    expect(
      artifactBytes({
        artifact: {
          sha256: '0'.repeat(64),
          contentType: 'text/plain',
          size: 2,
          data: 'aGk=',
          producer: 'p',
        },
      })?.toString(),
    ).toBe('hi');
  });
});
