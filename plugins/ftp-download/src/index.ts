// ftp-download: fetches what an attack points at over FTP, from the attacking
// host only: ftp:// URLs, busybox `ftpget` lines and scripted FTP dialogues
// (./script.ts). Every attempt is a `download` finding; each file fetched is
// an artifact with its hashes and type (the SDK's downloadPlugin does the
// fetching and the recording; this plugin only reads the command lines).
import {
  downloadPlugin,
  optionValue,
  parseOptions,
  plausibleHost,
  portNumber,
  shellCommands,
  urlAuthority,
  urlPath,
  type DownloadTarget,
} from '@honeytrap/sdk';
import { ftpScripts } from './script.js';

/** ftp://[user[:pass]@]host[:port]/path */
function ftpUrl(d: {
  host: string;
  port?: number;
  user?: string;
  pass?: string;
  file: string;
}): string {
  const cred =
    d.user === undefined
      ? ''
      : `${encodeURIComponent(d.user)}${d.pass === undefined ? '' : `:${encodeURIComponent(d.pass)}`}@`;
  return `ftp://${cred}${urlAuthority(d.host, d.port, 21)}${urlPath(d.file)}`;
}

/** busybox ftpget [-c] [-v] [-u USER] [-p PASS] [-P PORT] HOST [LOCAL] REMOTE */
function ftpgets(text: string): DownloadTarget[] {
  const out: DownloadTarget[] = [];
  for (const c of shellCommands(text)) {
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
      url: ftpUrl({
        host,
        file,
        ...(port === undefined ? {} : { port }),
        ...(user === undefined ? {} : { user }),
        ...(pass === undefined ? {} : { pass }),
      }),
      offset: c.offset,
      via: c.busybox ? 'busybox ftpget' : 'ftpget',
    });
  }
  return out;
}

function commands(text: string): DownloadTarget[] {
  return [
    ...ftpgets(text),
    ...ftpScripts(text).map((d) => ({ url: ftpUrl(d), offset: d.offset, via: 'ftp-script' })),
  ];
}

export default downloadPlugin({ schemes: ['ftp'], commands });
