// clamav: scans artifacts (and, when configured, what attackers sent) with
// ClamAV's clamd, over its socket, through the host's broker (ctx.exchange).
// A detection is a `signature` finding named after the virus; a clean scan a
// `note` finding "clean", so a record says the bytes were scanned; clamd down,
// refusing or failing to scan is a failed task with clamd's words.
//
// The protocol is clamd's zINSTREAM: "zINSTREAM\0", then the bytes in chunks,
// each after its length as 4 bytes big-endian, then a chunk of length 0. clamd
// answers one NUL-terminated line: "stream: <name> FOUND", "stream: OK", or
// "<reason> ERROR", and closes the connection. clamd refuses a stream longer
// than its StreamMaxLength (25 MiB by default) with "INSTREAM size limit
// exceeded. ERROR", so the plugin sends at most config.streamMaxLength bytes.
//
// This file is the plugin as shipped: it must stand alone (no imports). The
// protocol helpers are exported for the tests.

/** @typedef {import('@honeytrap/sdk').WorkerPlugin} WorkerPlugin */
/** @typedef {import('@honeytrap/sdk').Finding} Finding */

/** Bytes per INSTREAM chunk. clamd's own clients send a few KiB to 1 MiB; any size below StreamMaxLength works. */
export const CHUNK_BYTES = 1 << 20;

/** The longest reply read (clamd's replies are one short line). */
const MAX_REPLY_BYTES = 4096;

/**
 * The zINSTREAM request for `data`: the command, the chunks with their
 * lengths, the zero-length terminator.
 * @param {Uint8Array} data
 * @param {number} [chunkBytes]
 * @returns {Buffer}
 */
export function encodeInstream(data, chunkBytes = CHUNK_BYTES) {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1)
    throw new RangeError(`chunk size must be a positive integer (got ${chunkBytes})`);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const parts = [Buffer.from('zINSTREAM\0', 'latin1')];
  for (let at = 0; at < bytes.length; at += chunkBytes) {
    const chunk = bytes.subarray(at, at + chunkBytes);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(chunk.length);
    parts.push(length, chunk);
  }
  parts.push(Buffer.alloc(4)); // the terminator: a chunk of length 0
  return Buffer.concat(parts);
}

/**
 * @typedef {{ status: 'found', signature: string }
 *   | { status: 'clean' }
 *   | { status: 'error', message: string }} ScanReply
 */

/**
 * Reads clamd's answer to a zINSTREAM (or INSTREAM) request.
 * @param {Uint8Array | string} reply
 * @returns {ScanReply}
 */
export function parseReply(reply) {
  const text = (typeof reply === 'string' ? reply : Buffer.from(reply).toString('utf8')).replace(
    /[\0\r\n]+$/,
    '',
  );
  if (text === '')
    return { status: 'error', message: 'clamd closed the connection without a reply' };
  if (text === 'stream: OK') return { status: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found) return { status: 'found', signature: found[1] };
  const error = /^(?:stream: )?(.*?) ?ERROR$/.exec(text);
  if (error) return { status: 'error', message: error[1] || 'ERROR' };
  return { status: 'error', message: `unexpected reply ${JSON.stringify(text.slice(0, 200))}` };
}

/**
 * Checks the socket setting: "unix:/path" or "tcp://host:port".
 * @param {string} socket
 * @returns {string | undefined} why it is not one, or undefined when it is
 */
export function socketProblem(socket) {
  if (/^unix:\/./.test(socket)) return undefined;
  const m = /^tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(socket);
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= 65535) return undefined;
  return `socket ${JSON.stringify(socket)} is neither unix:/path nor tcp://host:port`;
}

/**
 * An Error for a scan that did not happen, keeping the broker's code
 * (HT_PLUGIN_NETWORK, HT_PLUGIN_DENIED) when there is one.
 * @param {string} message
 * @param {unknown} [cause]
 */
function scanError(message, cause) {
  const err = new Error(message, cause === undefined ? undefined : { cause });
  const code = /** @type {{ code?: unknown }} */ (cause ?? {}).code;
  if (typeof code === 'string') Object.assign(err, { code });
  return err;
}

/** @type {WorkerPlugin} */
export default {
  async analyze(input, ctx) {
    const config = ctx.config;
    const socket = String(config.socket);
    const streamMaxLength = Number(config.streamMaxLength);
    /** @type {Buffer} */
    let bytes;
    if (input.kind === 'artifact' && input.artifact) {
      bytes = Buffer.from(input.artifact.data, 'base64');
    } else if (input.kind === 'attack') {
      if (!config.scanAttacks) return undefined;
      bytes = Buffer.from(input.attack.received.data, 'base64');
    } else {
      return undefined;
    }
    const what = input.kind === 'artifact' ? `artifact ${input.artifact?.sha256}` : 'attack data';
    const problem = socketProblem(socket);
    if (problem) throw scanError(`cannot scan the ${what}: ${problem}`);

    const scanned = bytes.subarray(0, streamMaxLength);
    /** @type {Record<string, string | number | boolean>} */
    const meta = { engine: 'clamav', bytes: scanned.length };
    if (scanned.length < bytes.length) {
      meta.truncated = true;
      meta.size = bytes.length;
      ctx.log(
        `scanning the first ${scanned.length} of ${bytes.length} bytes of the ${what} (config streamMaxLength)`,
      );
    }

    let res;
    try {
      res = await ctx.exchange({
        url: socket,
        data: encodeInstream(scanned).toString('base64'),
        maxBytes: MAX_REPLY_BYTES,
        timeoutMs: Number(config.timeoutMs),
      });
    } catch (err) {
      // the broker's message names the plugin already
      const why = (err instanceof Error ? err.message : String(err)).replace(/^plugin \S+: /, '');
      const hint = /ECONNREFUSED|ENOENT/.test(why)
        ? ' (is clamd running and listening there?)'
        : // clamd resets the connection when a stream passes its StreamMaxLength
          /ECONNRESET|EPIPE/.test(why)
          ? ` (a stream longer than clamd's StreamMaxLength is cut off like this: is plugins.config.clamav.streamMaxLength, ${streamMaxLength}, above it?)`
          : '';
      throw scanError(`clamd at ${socket} did not scan the ${what}: ${why}${hint}`, err);
    }
    const reply = parseReply(Buffer.from(res.data, 'base64'));
    if (reply.status === 'error') {
      const hint = /size limit exceeded/i.test(reply.message)
        ? ` (set plugins.config.clamav.streamMaxLength to at most clamd's StreamMaxLength)`
        : '';
      throw scanError(`clamd at ${socket} could not scan the ${what}: ${reply.message}${hint}`);
    }
    /** @type {Finding} */
    const finding =
      reply.status === 'found'
        ? { type: 'signature', value: reply.signature, meta }
        : { type: 'note', value: 'clean', meta };
    return { findings: [finding] };
  },
};
