// ftp downloads with basic-ftp: login from the URL or anonymous, binary,
// passive mode. The data connection always goes to the address of the control
// connection (the checked one): the address in a PASV reply is never used,
// so a server cannot point the broker at a third host (FTP bounce). No FTPS:
// the downloads this is for are served in plain FTP.
import { createConnection, isIPv6, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Client, FTPError, type FTPContext, type FTPResponse } from 'basic-ftp';
import type { EgressTarget } from '../egress.js';
import { CappedBody, NetworkFailure, errnoText, timedOut, type Limits } from './common.js';
import type { Answer } from './http.js';

/** The port of a PASV reply "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)"; its address is ignored. */
export function pasvPort(message: string): number {
  const m = /(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})/.exec(message);
  if (!m) throw new Error(`cannot parse the PASV reply: ${message}`);
  return (Number(m[5]) & 255) * 256 + (Number(m[6]) & 255);
}

/** The port of an EPSV reply "229 Entering Extended Passive Mode (|||6446|)". */
export function epsvPort(message: string): number {
  const m = /([|!])\1\1(\d{1,5})\1/.exec(message);
  if (!m) throw new Error(`cannot parse the EPSV reply: ${message}`);
  return Number(m[2]);
}

function connectData(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: address, port });
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(new Error(`data connection to ${address}:${port} timed out`));
    });
    s.once('error', reject);
    s.once('connect', () => {
      s.setTimeout(0);
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}

/**
 * basic-ftp's transfer strategy, replaced: PASV on IPv4 (every server has
 * it), EPSV on IPv6, and in both cases only the port is taken from the reply.
 */
function passiveToControlAddress(address: string, timeoutMs: number) {
  return async (ftp: FTPContext): Promise<FTPResponse> => {
    const v6 = isIPv6(address);
    const res = await ftp.request(v6 ? 'EPSV' : 'PASV');
    const port = v6 ? epsvPort(res.message) : pasvPort(res.message);
    ftp.dataSocket = await connectData(address, port, timeoutMs);
    return res;
  };
}

/** The credentials of the URL (percent-decoded), or anonymous. */
function login(url: URL): { user: string; password: string } {
  if (!url.username) return { user: 'anonymous', password: 'anonymous@' };
  return {
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

/** The path to RETR: relative to the login folder (RFC 1738; %2F for an absolute one). */
export function ftpPath(url: URL): string {
  return decodeURIComponent(url.pathname.replace(/^\//, ''));
}

export async function ftpFetch(t: EgressTarget, address: string, limits: Limits): Promise<Answer> {
  const { user, password } = login(t.url);
  const path = ftpPath(t.url);
  // CR, LF or NUL would end the command and start another on the control connection.
  if (/[\r\n\0]/.test(user + password + path))
    throw new NetworkFailure('the URL has control characters in its user, password or path');
  if (!path) throw new NetworkFailure('the URL names no file');
  const client = new Client(limits.timeoutMs);
  client.prepareTransfer = passiveToControlAddress(address, limits.timeoutMs);
  // The server's last reply, kept for a transfer the size cap cut short.
  // (basic-ftp itself refuses a reply longer than 64 KiB.)
  let last = { code: 0, text: '' };
  const log = client.ftp.log.bind(client.ftp);
  client.ftp.log = (message: string) => {
    if (message.startsWith('< '))
      for (const m of message.slice(2).matchAll(/^(\d{3}) (.*)$/gm))
        last = { code: Number(m[1]), text: m[2]! };
    log(message);
  };
  const body = new CappedBody(limits.maxBytes);
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!body.add(chunk)) client.close();
      done();
    },
  });
  const onAbort = () => client.close();
  limits.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.access({ host: address, port: t.port, user, password, secure: false });
    const res = await client.downloadTo(sink, path);
    return answer(res.code, res.message, body);
  } catch (err) {
    if (body.truncated) return answer(last.code, last.text, body);
    if (limits.signal.aborted) throw timedOut(limits, 'ftp');
    // A reply the server gave (530 login, 550 no such file): the plugin's answer.
    if (err instanceof FTPError) return answer(err.code, err.message, body);
    throw new NetworkFailure(errnoText(err), err);
  } finally {
    limits.signal.removeEventListener('abort', onAbort);
    client.close();
  }
}

function answer(code: number, message: string, body: CappedBody): Answer {
  return {
    status: code,
    statusText: message.replace(/^\d{3}[ -]/, ''),
    headers: {},
    body: body.base64(),
    truncated: body.truncated,
  };
}
