// ignore: never answer. A TCP connection is recorded and closed at once; UDP
// datagrams are recorded (the session ends when the peer goes quiet).
import type { Session } from '../session/types.js';

export function ignore(session: Session): void {
  if (session.proto === 'tcp') session.end('ignored');
}
