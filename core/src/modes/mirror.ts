// mirror: connect back to the attacker on the port it attacked and splice
// the two sessions, so the attacker attacks itself. Falls back to normal when
// the connect-back fails or is refused (loop protection, limits).
import type { Session, SessionHost } from '../session/types.js';
import { spliceOrFallback } from './splice.js';

export function mirror(session: Session, host: SessionHost): void {
  spliceOrFallback(session, host, 'mirror', {
    address: session.remote.address,
    port: session.local.port,
  });
}
