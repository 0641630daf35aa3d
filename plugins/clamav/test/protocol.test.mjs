// The zINSTREAM encoding and the reply parser of index.mjs, against a real
// clamd over a plain socket (no host in between): what the plugin sends is
// what clamd understands, and what clamd answers is read right.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CHUNK_BYTES, encodeInstream, parseReply, socketProblem } from '../index.mjs';
import { clamdRequest, reported, startClamd } from './clamd.mjs';

const malware = randomBytes(3000);
const marker = Buffer.from('HONEYTRAP-TEST-MARKER-6f1c2a');
const STREAM_MAX = 256 * 1024;

/** @type {import('./clamd.mjs').Clamd} */
let clamd;
before(async () => {
  clamd = await startClamd({
    hashSignatures: [{ name: 'Honeytrap.Test.Hash', data: malware }],
    hexSignatures: [{ name: 'Honeytrap.Test.Marker', bytes: marker }],
    streamMaxLength: STREAM_MAX,
  });
});
after(() => clamd?.remove());

const scan = async (data, target = { path: clamd.socketPath }, chunkBytes = CHUNK_BYTES) =>
  parseReply(await clamdRequest(target, encodeInstream(data, chunkBytes)));

test('the encoding: command, chunks after their 4-byte big-endian length, a zero-length terminator', () => {
  const data = Buffer.from('abcdefghij');
  assert.deepEqual(
    encodeInstream(data, 4),
    Buffer.concat([
      Buffer.from('zINSTREAM\0'),
      Buffer.from([0, 0, 0, 4]),
      Buffer.from('abcd'),
      Buffer.from([0, 0, 0, 4]),
      Buffer.from('efgh'),
      Buffer.from([0, 0, 0, 2]),
      Buffer.from('ij'),
      Buffer.from([0, 0, 0, 0]),
    ]),
  );
  assert.deepEqual(encodeInstream(new Uint8Array(0)), Buffer.from('zINSTREAM\0\0\0\0\0', 'latin1'));
  // a view into a larger buffer sends only its own bytes
  const big = Buffer.from('xxxxHELLOyyyy');
  assert.deepEqual(
    encodeInstream(big.subarray(4, 9), 16).subarray(10, 19),
    Buffer.from('\0\0\0\x05HELLO'),
  );
  assert.throws(() => encodeInstream(data, 0), /chunk size must be a positive integer/);
});

test('replies: FOUND, OK, ERROR and anything else', () => {
  assert.deepEqual(parseReply('stream: Win.Test.EICAR_HDB-1 FOUND\0'), {
    status: 'found',
    signature: 'Win.Test.EICAR_HDB-1',
  });
  assert.deepEqual(parseReply(Buffer.from('stream: OK\0')), { status: 'clean' });
  assert.deepEqual(parseReply('INSTREAM size limit exceeded. ERROR\0'), {
    status: 'error',
    message: 'INSTREAM size limit exceeded.',
  });
  assert.deepEqual(parseReply("stream: Can't allocate memory ERROR\n"), {
    status: 'error',
    message: "Can't allocate memory",
  });
  assert.deepEqual(parseReply(''), {
    status: 'error',
    message: 'clamd closed the connection without a reply',
  });
  assert.deepEqual(parseReply('UNKNOWN COMMAND\0'), {
    status: 'error',
    message: 'unexpected reply "UNKNOWN COMMAND"',
  });
});

test('socket settings: unix:/path and tcp://host:port only', () => {
  for (const ok of [
    'unix:/run/clamav/clamd.ctl',
    'tcp://127.0.0.1:3310',
    'tcp://clamd.lan:3310',
    'tcp://[::1]:3310',
  ])
    assert.equal(socketProblem(ok), undefined, ok);
  for (const bad of [
    '/run/clamav/clamd.ctl',
    'unix:',
    'tcp://127.0.0.1',
    'tcp://h:0',
    'tcp://h:70000',
    'http://h:1',
  ])
    assert.match(socketProblem(bad) ?? '', /is neither unix:\/path nor tcp:\/\/host:port/, bad);
});

test('real clamd, unix socket: the hash signature is found, other bytes are clean', async () => {
  assert.deepEqual(await scan(malware), {
    status: 'found',
    signature: reported('Honeytrap.Test.Hash'),
  });
  const changed = Buffer.from(malware);
  changed[0] ^= 1;
  assert.deepEqual(await scan(changed), { status: 'clean' });
  assert.deepEqual(await scan(Buffer.alloc(0)), { status: 'clean' });
});

test('real clamd, TCP socket: the hex signature is found inside attack-like text', async () => {
  const tcp = { host: '127.0.0.1', port: clamd.port };
  const text = Buffer.concat([Buffer.from('GET /?x='), marker, Buffer.from(' HTTP/1.1\r\n\r\n')]);
  assert.deepEqual(await scan(text, tcp), {
    status: 'found',
    signature: reported('Honeytrap.Test.Marker'),
  });
  assert.deepEqual(await scan(Buffer.from('GET / HTTP/1.1\r\n\r\n'), tcp), { status: 'clean' });
});

test('small chunks: a signature split across chunk boundaries is still found (clamd reassembles the stream)', async () => {
  assert.deepEqual(await scan(malware, undefined, 7), {
    status: 'found',
    signature: reported('Honeytrap.Test.Hash'),
  });
  const text = Buffer.concat([randomBytes(1000), marker, randomBytes(1000)]);
  assert.deepEqual(await scan(text, undefined, 5), {
    status: 'found',
    signature: reported('Honeytrap.Test.Marker'),
  });
});

test('StreamMaxLength: exactly the limit is scanned; one byte more is refused with an ERROR reply; far more resets the connection', async () => {
  assert.deepEqual(await scan(Buffer.alloc(STREAM_MAX)), { status: 'clean' });
  // the last chunk crosses the limit: clamd has read everything before it and answers
  assert.deepEqual(await scan(Buffer.alloc(STREAM_MAX + 1), undefined, 64 * 1024), {
    status: 'error',
    message: 'INSTREAM size limit exceeded.',
  });
  // clamd closes while megabytes are still coming: the sender sees a reset, not the reply,
  // which is why the plugin never sends more than config.streamMaxLength
  await assert.rejects(
    clamdRequest(
      { path: clamd.socketPath },
      encodeInstream(Buffer.alloc(8 * STREAM_MAX), 64 * 1024),
    ),
    (err) => ['ECONNRESET', 'EPIPE'].includes(err.code),
  );
});
