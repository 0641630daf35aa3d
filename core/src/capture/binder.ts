// Opens one listening socket (TCP server or UDP socket) for a port and wires
// it to sessions. Shared by the listen capture and the nfqueue port table.
import { createSocket } from 'node:dgram';
import { createServer, isIPv6 } from 'node:net';
import { HoneytrapError } from '../errors.js';
import type { PortSettings } from '../config/ports.js';
import { portKey } from '../config/ports.js';
import { modeHandler } from '../modes/index.js';
import { TcpSession } from '../session/tcp-session.js';
import type { SessionHost } from '../session/types.js';
import { UdpPort } from '../session/udp-port.js';

export interface Listener {
  readonly key: string;
  /** Called on every new connection or new UDP session. */
  onActivity?: () => void;
  close(): void;
}

export function bind(
  settings: PortSettings,
  address: string,
  host: SessionHost,
): Promise<Listener | HoneytrapError> {
  return settings.proto === 'tcp'
    ? bindTcp(settings, address, host)
    : bindUdp(settings, address, host);
}

/**
 * Wraps a socket that is already bound (and, for TCP, listening) on
 * settings.port: the nfqueue reader thread made it. On failure the fd is not
 * closed here (Node may already have closed it with its handle: closing it
 * again could close another socket that took the number).
 */
export function adopt(
  settings: PortSettings,
  fd: number,
  address: string,
  host: SessionHost,
): Promise<Listener | HoneytrapError> {
  return settings.proto === 'tcp'
    ? bindTcp(settings, address, host, fd)
    : bindUdp(settings, address, host, fd);
}

function bindTcp(
  settings: PortSettings,
  address: string,
  host: SessionHost,
  fd?: number,
): Promise<Listener | HoneytrapError> {
  const key = portKey(settings.port, 'tcp');
  const mode = modeHandler(settings.mode, host);
  const listener: Listener = { key, close: () => server.close() };
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    listener.onActivity?.();
    new TcpSession(socket, settings, host).start(mode);
  });
  return new Promise((resolve) => {
    server.once('error', (err) => {
      resolve(bindError(key, address, err));
    });
    const where =
      fd === undefined
        ? { host: address, port: settings.port, ipv6Only: false, backlog: 1024 }
        : { fd, backlog: 1024 };
    server.listen(where, () => {
      server.removeAllListeners('error');
      // A listener error after start (EMFILE on accept) must not crash the daemon.
      server.on('error', () => undefined);
      resolve(listener);
    });
  });
}

function bindUdp(
  settings: PortSettings,
  address: string,
  host: SessionHost,
  fd?: number,
): Promise<Listener | HoneytrapError> {
  const key = portKey(settings.port, 'udp');
  const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', ipv6Only: false });
  const listener: Listener = { key, close: () => socket.close() };
  return new Promise((resolve) => {
    socket.once('error', (err) => {
      socket.close();
      resolve(bindError(key, address, err));
    });
    const where =
      fd === undefined
        ? { address, port: settings.port, exclusive: true }
        : { fd, exclusive: true };
    socket.bind(where, () => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      new UdpPort(socket, settings, host, modeHandler(settings.mode, host), () =>
        listener.onActivity?.(),
      );
      resolve(listener);
    });
  });
}

/** A bind failure as the port table reports it, the reason in words where it is a common one. */
export function bindError(
  key: string,
  address: string,
  err: NodeJS.ErrnoException,
): HoneytrapError {
  const why: Record<string, string> = {
    EADDRINUSE: 'address already in use',
    EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
    EADDRNOTAVAIL: 'address not available on this host',
    EMFILE: 'too many open files (raise the fd limit or lower portTable.maxListeners)',
  };
  const reason = why[err.code ?? ''] ?? err.message;
  return new HoneytrapError(
    'HT_PORT_BIND',
    `port ${key} on ${address}: ${reason}${err.code ? ` (${err.code})` : ''}`,
    {
      port: key,
      cause: err,
    },
  );
}
