// tftp downloads: an RFC 1350 read request in octet mode, with the RFC 2348
// block size and RFC 2349 transfer size options. Hand-written: npm has no
// TFTP client that is maintained (the packages there were last released years
// ago). Only the checked address may answer: the first packet from it fixes
// the server's transfer port, packets from other ports get error 5 (RFC 1350)
// and packets from other addresses are dropped.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { EgressTarget } from '../egress.js';
import { CappedBody, NetworkFailure, errnoText, timedOut, type Limits } from './common.js';
import type { Answer } from './http.js';

const RRQ = 1;
const DATA = 3;
const ACK = 4;
const ERROR = 5;
const OACK = 6;

/** The block size asked for: a 1500-byte Ethernet frame with room for IPv6 and tunnel headers. */
export const TFTP_BLKSIZE = 1428;
/** Without options (or when the server ignores them). */
const DEFAULT_BLKSIZE = 512;
/** Waits before sending the last packet again, doubling, and how many times. */
const RETRANSMIT_MS = 500;
const RETRANSMITS = 5;

function zstrings(...s: string[]): Buffer {
  return Buffer.concat(s.map((x) => Buffer.from(`${x}\0`, 'latin1')));
}

function packet(op: number, body: Buffer): Buffer {
  const b = Buffer.alloc(2 + body.length);
  b.writeUInt16BE(op, 0);
  body.copy(b, 2);
  return b;
}

export function rrq(file: string): Buffer {
  return packet(RRQ, zstrings(file, 'octet', 'blksize', String(TFTP_BLKSIZE), 'tsize', '0'));
}

function ack(block: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(ACK, 0);
  b.writeUInt16BE(block, 2);
  return b;
}

function error(code: number, message: string): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return packet(ERROR, Buffer.concat([head, zstrings(message)]));
}

/** The options of an OACK, names lowercased. */
export function parseOack(body: Buffer): Record<string, string> {
  const parts = body.toString('latin1').split('\0');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) out[parts[i]!.toLowerCase()] = parts[i + 1]!;
  return out;
}

/** The file name of tftp://host[:port]/name (RFC 3617). */
export function tftpFile(url: URL): string {
  return decodeURIComponent(url.pathname.replace(/^\//, ''));
}

export function tftpFetch(t: EgressTarget, address: string, limits: Limits): Promise<Answer> {
  const file = tftpFile(t.url);
  if (!file || file.includes('\0'))
    return Promise.reject(new NetworkFailure('the URL names no file (or has a NUL in it)'));
  return new Promise<Answer>((resolve, reject) => {
    const sock: Socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    const body = new CappedBody(limits.maxBytes);
    const headers: Record<string, string> = {};
    let blksize = DEFAULT_BLKSIZE;
    let serverPort: number | undefined;
    let expected = 1;
    let last = rrq(file);
    let retries = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    /** Settles once; `lastWords` (a final ACK or ERROR) is sent before the socket closes. */
    const finish = (
      err: Error | undefined,
      a?: Omit<Answer, 'headers' | 'body' | 'truncated'>,
      lastWords?: Buffer,
    ) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      limits.signal.removeEventListener('abort', onAbort);
      const close = () => sock.close();
      if (lastWords) sock.send(lastWords, serverPort ?? t.port, address, close);
      else close();
      if (err) reject(err);
      else resolve({ ...a!, headers, body: body.base64(), truncated: body.truncated });
    };
    const send = (b: Buffer, port = serverPort ?? t.port) =>
      sock.send(b, port, address, (err) => {
        if (err) finish(new NetworkFailure(errnoText(err), err));
      });
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => {
          if (++retries > RETRANSMITS)
            return finish(
              new NetworkFailure(
                `no answer from ${address}:${serverPort ?? t.port} after ${RETRANSMITS} retransmits`,
              ),
            );
          send(last);
          arm();
        },
        RETRANSMIT_MS * 2 ** retries,
      );
    };
    const transmit = (b: Buffer) => {
      last = b;
      retries = 0;
      send(b);
      arm();
    };
    const onAbort = () => finish(timedOut(limits, 'tftp'));

    const onMessage = (msg: Buffer, from: RemoteInfo) => {
      if (from.address.toLowerCase() !== address.toLowerCase() || msg.length < 4) return;
      serverPort ??= from.port;
      if (from.port !== serverPort) return void send(error(5, 'Unknown transfer ID'), from.port);
      const op = msg.readUInt16BE(0);
      if (op === ERROR)
        return finish(undefined, {
          status: msg.readUInt16BE(2),
          statusText: msg.subarray(4).toString('latin1').replace(/\0.*$/s, ''),
        });
      if (op === OACK && expected === 1) {
        const o = parseOack(msg.subarray(2));
        const size = Number(o.blksize ?? DEFAULT_BLKSIZE);
        if (!Number.isInteger(size) || size < 8 || size > TFTP_BLKSIZE) {
          return finish(
            new NetworkFailure(`the server offered blksize ${o.blksize}`),
            undefined,
            error(8, 'blksize not acceptable'),
          );
        }
        blksize = size;
        headers.blksize = String(size);
        if (o.tsize !== undefined) headers.tsize = o.tsize;
        return transmit(ack(0));
      }
      if (op !== DATA) {
        return finish(
          new NetworkFailure(`unexpected TFTP opcode ${op}`),
          undefined,
          error(4, 'Illegal TFTP operation'),
        );
      }
      const block = msg.readUInt16BE(2);
      // A repeat of the block before: our ACK was lost, send it again.
      if (block === ((expected - 1) & 0xffff)) return send(ack(block));
      if (block !== (expected & 0xffff)) return;
      headers.blksize ??= String(blksize);
      const data = msg.subarray(4);
      if (!body.add(data)) {
        return finish(
          undefined,
          { status: 0, statusText: 'size limit reached' },
          error(0, 'size limit reached'),
        );
      }
      expected++;
      if (data.length < blksize) {
        return finish(undefined, { status: 0, statusText: 'transfer complete' }, ack(block));
      }
      transmit(ack(block));
    };

    sock.on('message', onMessage);
    sock.on('error', (err) => finish(new NetworkFailure(errnoText(err), err)));
    if (limits.signal.aborted) return onAbort();
    limits.signal.addEventListener('abort', onAbort, { once: true });
    sock.bind(0, () => transmit(last));
  });
}
