// What mirror and proxy share: admission, connect, and the fallback to
// normal mode (recorded in the attack string) when the peer cannot be used.
import type { Endpoint, Session, SessionHost, SpliceRole } from '../session/types.js';
import { normal } from './normal.js';

export function spliceOrFallback(
  session: Session,
  host: SessionHost,
  role: SpliceRole,
  peer: Endpoint,
): void {
  const fallback = (reason: string) => {
    session.fallback(role, reason);
    normal(session);
  };
  const admission = host.splices.admit(role, session.proto, session.remote, peer);
  if (!admission.ok) return fallback(admission.reason);
  session.splice(peer, role, host.splices.connectTimeoutMs, admission.answered).then(
    () => session.onEnd(admission.release),
    (err: Error) => {
      admission.release();
      fallback(err.message);
    },
  );
}
