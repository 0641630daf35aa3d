// tftp-download: fetches what an attack points at over TFTP, from the
// attacking host only: tftp:// URLs and the tftp command lines of the three
// clients bots use (Windows `tftp -i HOST GET FILE`, busybox
// `tftp -g -r FILE [-l LOCAL] HOST [PORT]`, tftp-hpa `tftp HOST [PORT] -c get
// FILE`). Every attempt is a `download` finding; each file fetched is an
// artifact with its hashes and type (the SDK's downloadPlugin does the
// fetching and the recording; this file only reads the command lines).
import {
  downloadPlugin,
  downloadUrl,
  optionValue,
  parseOptions,
  plausibleHost,
  portNumber,
  shellCommands,
  type DownloadTarget,
} from '@honeytrap/sdk';

/** Options that take a value: busybox -l LOCAL -r REMOTE -b BLKSIZE, tftp-hpa -m MODE -R PORTS. */
const VALUE_OPTIONS = { short: 'lrbmR' };

/** The remote file, host and port of one tftp command line, or undefined for an upload or no file. */
function tftpTarget(args: string[]): { host: string; port?: number; file: string } | undefined {
  // tftp-hpa: everything after -c is one interactive command (get FILE [LOCAL])
  const c = args.indexOf('-c');
  const command = c < 0 ? [] : args.slice(c + 1);
  const { options, operands } = parseOptions(c < 0 ? args : args.slice(0, c), VALUE_OPTIONS);
  let file = optionValue(options, 'r') ?? optionValue(options, 'l');
  let put = options.has('p') && !options.has('g');
  const host = operands[0];
  let portWord: string | undefined = operands[1];
  if (command.length >= 2) {
    put = command[0].toLowerCase() === 'put';
    if (!put && command[0].toLowerCase() === 'get') file = command[1];
  } else if (operands.length >= 3 && /^(get|put)$/i.test(operands[1])) {
    // Windows: tftp [-i] HOST GET|PUT SOURCE [DESTINATION]
    put = operands[1].toLowerCase() === 'put';
    file = operands[2];
    portWord = undefined;
  }
  if (put || !file || !host || !plausibleHost(host)) return undefined;
  const port = portNumber(portWord);
  return { host, file, ...(port === undefined ? {} : { port }) };
}

function commands(text: string): DownloadTarget[] {
  const out: DownloadTarget[] = [];
  for (const c of shellCommands(text, ['tftp', 'tftp.exe'])) {
    if (c.program !== 'tftp' && c.program !== 'tftp.exe') continue;
    const t = tftpTarget(c.args);
    if (!t) continue;
    out.push({
      url: downloadUrl('tftp', t),
      offset: c.offset,
      via: c.busybox ? 'busybox tftp' : 'tftp',
    });
  }
  return out;
}

export default downloadPlugin({ schemes: ['tftp'], commands });
