// http-download: fetches what an attack points at over HTTP(S), from the
// attacking host only: http(s) URLs, and the wget / curl command lines
// (busybox forms too, `wget 203.0.113.5/x.sh` without a scheme as wget reads
// it). Every attempt is a `download` finding; each file fetched is an
// artifact with its hashes and type (the SDK's downloadPlugin does the
// fetching and the recording; this file only reads the command lines).
import {
  downloadPlugin,
  optionValue,
  parseOptions,
  plausibleHost,
  shellCommands,
  type DownloadTarget,
} from '@honeytrap/sdk';

const SCHEMES = ['http', 'https'];

/**
 * The options of each tool that take a value, so that a value (a user agent,
 * an output file) is not read as the URL.
 */
const VALUE_OPTIONS = {
  wget: {
    short: 'oaeiBtOTwQPUlARDIX',
    long: (
      'output-document output-file append-output execute input-file base tries timeout wait ' +
      'directory-prefix user-agent header post-data post-file method body-data user password ' +
      'http-user http-password referer bind-address limit-rate'
    ).split(' '),
  },
  curl: {
    short: 'oAHdXumxebcTrwFKECyYzUQPt',
    long: (
      'output user-agent header data data-binary data-raw data-urlencode request user max-time ' +
      'connect-timeout proxy referer cookie cookie-jar upload-file form retry resolve interface ' +
      'output-dir config'
    ).split(' '),
  },
};

/** A wget/curl argument as the URL it fetches: http(s) as written, or http:// added to host/path. */
function httpUrl(word: string): string | undefined {
  if (/^https?:\/\//i.test(word)) return word;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(word)) return undefined; // ftp://, tftp://: not ours
  const host = word.split(/[/:?#]/, 1)[0];
  return plausibleHost(host) ? `http://${word}` : undefined;
}

function commands(text: string): DownloadTarget[] {
  const out: DownloadTarget[] = [];
  for (const c of shellCommands(text, ['wget', 'curl'])) {
    if (c.program !== 'wget' && c.program !== 'curl') continue;
    const { options, operands } = parseOptions(c.args, VALUE_OPTIONS[c.program]);
    const explicit = c.program === 'curl' ? optionValue(options, 'url') : undefined;
    for (const word of explicit === undefined ? operands : [explicit, ...operands]) {
      const url = httpUrl(word);
      if (url)
        out.push({ url, offset: c.offset, via: c.busybox ? `busybox ${c.program}` : c.program });
    }
  }
  return out;
}

export default downloadPlugin({ schemes: SCHEMES, commands });
