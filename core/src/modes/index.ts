// The connection modes, by name. Each mode is one file.
import { HoneytrapError } from '../errors.js';
import type { Mode, Proto } from '../config/ports.js';
import type { Session } from '../session/types.js';
import { ignore } from './ignore.js';
import { normal } from './normal.js';

export type ModeHandler = (session: Session) => void;

export function modeHandler(mode: Mode, proto: Proto): ModeHandler {
  switch (mode) {
    case 'normal':
      return normal;
    case 'ignore':
      return (s) => ignore(s, proto);
    case 'mirror':
    case 'proxy':
      throw new HoneytrapError(
        'HT_UNSUPPORTED',
        `${mode} mode is not available in this version yet`,
      );
  }
}
