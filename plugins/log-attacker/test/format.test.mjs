// The attacker.log line, byte for byte: honeytrap's logAttacker format
// "[%F %H:%M:%S:%lu GMT] %s %s:%d -> %s:%d %s %s (%u bytes)\n".
// plugin.test.mjs runs the plugin itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attackFixture } from '@honeytrap/sdk';
import { attackerLine, endpoint, stamp } from '../index.mjs';

const MD5_HELLO = '09f7e02f1290be211da707a266f153b3'; // md5sum and sha512sum of "Hello\n"
const SHA512_HELLO =
  'c2bad2223811194582af4d1508ac02cd69eeeeedeeb98d54fcae4dcefb13cc882e7640328206603d3fb9cd5f949a9be0db054dd34fbfa190c498a5fe09750cef';

test('an IPv4 attack: the exact line, stamped with the end of the session', () => {
  const a = attackFixture({
    received: 'Hello\n',
    port: 23,
    remote: { address: '198.51.100.7', port: 40001 },
    localAddress: '192.0.2.1',
    startedAt: '2026-11-25T19:40:00.000Z',
    durationMs: 1256,
  });
  assert.equal(
    attackerLine(a),
    `[2026-11-25 19:40:01:256000 GMT] tcp 198.51.100.7:40001 -> 192.0.2.1:23 ${MD5_HELLO} ${SHA512_HELLO} (6 bytes)\n`,
  );
});

test('an IPv6 attack over UDP: addresses in brackets before the port', () => {
  const a = attackFixture({
    received: 'Hello\n',
    proto: 'udp',
    port: 5060,
    remote: { address: '2001:db8::7', port: 5061 },
    localAddress: '::',
    startedAt: '2026-01-02T03:04:05.000Z',
    durationMs: 5,
  });
  assert.equal(
    attackerLine(a),
    `[2026-01-02 03:04:05:5000 GMT] udp [2001:db8::7]:5061 -> [::]:5060 ${MD5_HELLO} ${SHA512_HELLO} (6 bytes)\n`,
  );
});

test('an attack that sent nothing: the hashes of no bytes, 0 bytes', () => {
  const a = attackFixture({ startedAt: '2026-11-25T00:00:00.000Z', durationMs: 0 });
  assert.match(
    attackerLine(a),
    /^\[2026-11-25 00:00:00:0 GMT\] tcp 198\.51\.100\.7:40000 -> 192\.0\.2\.1:80 d41d8cd98f00b204e9800998ecf8427e cf83e1357eefb8bd\w{112} \(0 bytes\)\n$/,
  );
});

test('microseconds without leading zeros, as %lu prints them', () => {
  assert.equal(stamp('2026-11-25T19:40:01.007Z'), '2026-11-25 19:40:01:7000 GMT');
  assert.equal(stamp('2026-11-25T19:40:01.999Z'), '2026-11-25 19:40:01:999000 GMT');
  assert.equal(endpoint({ address: '::ffff:192.0.2.1', port: 1 }), '[::ffff:192.0.2.1]:1');
});

test('the bytes kept are what is hashed and counted (a truncated attack)', () => {
  const a = attackFixture({ received: 'Hello\nmore', readLimit: 6 });
  assert.match(attackerLine(a), new RegExp(` ${MD5_HELLO} ${SHA512_HELLO} \\(6 bytes\\)\\n$`));
});
