// The connection modes, by name. Each mode is one file.
import type { Mode } from '../config/ports.js';
import type { Session, SessionHost } from '../session/types.js';
import { ignore } from './ignore.js';
import { mirror } from './mirror.js';
import { normal } from './normal.js';
import { proxy } from './proxy.js';

export type ModeHandler = (session: Session) => void;

export function modeHandler(mode: Mode, host: SessionHost): ModeHandler {
  switch (mode) {
    case 'normal':
      return normal;
    case 'ignore':
      return ignore;
    case 'mirror':
      return (s) => mirror(s, host);
    case 'proxy':
      return (s) => proxy(s, host);
  }
}
