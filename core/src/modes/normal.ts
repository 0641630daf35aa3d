// normal: answer with the port's response template, then read what the
// attacker sends until EOF, a timeout or the read limit.
import type { Session } from '../session/types.js';

export function normal(session: Session): void {
  const t = session.template();
  if (t) session.send(t.data);
}
