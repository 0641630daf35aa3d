// What download plugins (http-download, ftp-download, tftp-download) share:
// reading shell command lines out of attack text, finding URLs, taking the
// URLs url-extract already found, and fetching a list of targets through
// ctx.fetch, recording every attempt as a `download` finding and every file
// fetched as an artifact. Run-time code, bundled into the plugins by
// `honeytrap-plugin build`: it imports only describe-file.ts.
import type { ArtifactOut, Finding, PluginOutput } from './types.js';
import type { FetchResponse } from './core.js';
import type { PluginContext, WorkerPlugin } from './plugin.js';
import { describeFile } from './describe-file.js';

// ---- shell command lines ----

/** One simple command of a shell (or cmd.exe) line. */
export interface ShellCommand {
  /** The program's name without its path: wget, tftp, echo... (busybox APPLET gives the applet). */
  program: string;
  /** The words after the program, quotes and backslashes removed. */
  args: string[];
  /** Byte offset of the program word in the text (latin1 text: one character per byte). */
  offset: number;
  /** The command as written, from the program to where it ends. */
  text: string;
  /** Run as `busybox APPLET` or `/bin/busybox APPLET`. */
  busybox: boolean;
}

/** Characters that end a simple command: line ends, ; & | ` ( ) { } (also inside quotes: see shellCommands). */
const ENDS_COMMAND = new Set(['\n', '\r', '\0', ';', '&', '|', '`', '(', ')', '{', '}']);
/** Words before the program that do not change which program runs. */
const PREFIX_WORDS = new Set([
  'sudo',
  'nohup',
  'exec',
  'command',
  'then',
  'do',
  'else',
  'eval',
  'time',
  'cmd',
  'cmd.exe',
  '/c',
  '/k',
  'start',
  '/b',
]);

/** Shells whose `-c` argument is a command line (read as part of this one). */
const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh']);

/** Length of a word separator at i: space, tab, ${IFS} or $IFS; 0 when there is none. */
function separatorAt(text: string, i: number): number {
  const c = text[i];
  if (c === ' ' || c === '\t') return 1;
  if (c === '$') {
    if (text.startsWith('${IFS}', i)) return 6;
    if (text.startsWith('$IFS', i) && !/[A-Za-z0-9_]/.test(text[i + 4] ?? '')) return 4;
  }
  return 0;
}

/**
 * The simple commands in `text`, in order. Commands end at line ends and
 * ; & | ` ( ) { } outside quotes; a quoted string (closed on the same line)
 * is one word without its quotes, and is read again for the commands nested
 * in it, because attackers put them there (`bash -c "cd /tmp; wget …"`, JSON
 * strings). Words that start a redirection (`>`, `2>`, `>>file`) are kept, so
 * a caller can tell `echo get x >> f` from its arguments. With `programs`
 * (lower case), only the commands of those programs are returned, and text
 * without any of their names is not scanned.
 */
export function shellCommands(text: string, programs?: readonly string[]): ShellCommand[] {
  const out: ShellCommand[] = [];
  // Most attack data names none of the programs a caller wants: one case-insensitive search, no scan.
  // (Quotes and backslashes do not count: w'g'et is wget.)
  const lower = programs ? text.toLowerCase() : undefined;
  const bare = lower?.replace(/['"\\]/g, '');
  if (bare !== undefined && !programs!.some((p) => bare.includes(p))) return out;
  scanCommands(text, 0, text.length, out, lower, programs);
  return out;
}

/** Index of the quote closing the one at `at` on its line, before `limit`; -1 when there is none. */
function closingQuote(text: string, at: number, limit: number): number {
  const q = text[at];
  for (let k = at + 1; k < limit; k++) {
    const c = text[k];
    if (c === '\\' && q === '"') k++;
    else if (c === q) return k;
    else if (c === '\n' || c === '\r') return -1;
  }
  return -1;
}

function scanCommands(
  text: string,
  from: number,
  to: number,
  out: ShellCommand[],
  lower?: string,
  programs?: readonly string[],
): void {
  let i = from;
  while (i < to) {
    // one segment: up to the next character that ends a command, quotes, $( and ${IFS} excepted
    const quoted: [number, number][] = [];
    let end = i;
    while (end < to) {
      const c = text[end]!;
      if (c === '"' || c === "'") {
        const close = closingQuote(text, end, to);
        if (close > 0) {
          quoted.push([end + 1, close]);
          end = close + 1;
          continue;
        }
      } else if (c === '\\') {
        end += 2;
        continue;
      } else if (c === '{' && text[end - 1] === '$') {
        end++;
        continue;
      } else if (c === '}' && text.lastIndexOf('${', end) > text.lastIndexOf('}', end - 1)) {
        end++;
        continue;
      }
      if (ENDS_COMMAND.has(c)) break;
      end++;
    }
    end = Math.min(end, to);
    // a segment that names none of the programs is not split into words
    const wanted =
      !programs ||
      programs.some((p) => {
        const k = lower!.indexOf(p, i);
        return k >= 0 && k + p.length <= end;
      }) ||
      (/['"\\]/.test(lower!.slice(i, end)) &&
        programs.some((p) =>
          lower!
            .slice(i, end)
            .replace(/['"\\]/g, '')
            .includes(p),
        ));
    const cmd = wanted ? commandOf(text, segmentWords(text, i, end), end) : undefined;
    if (cmd && (!programs || programs.includes(cmd.program))) out.push(cmd);
    for (const [a, b] of quoted) scanCommands(text, a, b, out, lower, programs);
    i = end + 1;
  }
}

/** The words of text[from, to): quotes removed (a quoted string is part of one word), backslashes unescaped. */
function segmentWords(text: string, from: number, to: number): { word: string; at: number }[] {
  const words: { word: string; at: number }[] = [];
  let k = from;
  while (k < to) {
    const sep = separatorAt(text, k);
    if (sep) {
      k += sep;
      continue;
    }
    const at = k;
    let word = '';
    while (k < to && !separatorAt(text, k)) {
      const c = text[k]!;
      if (c === '"' || c === "'") {
        const close = closingQuote(text, k, to);
        if (close > 0) word += text.slice(k + 1, close);
        k = close > 0 ? close + 1 : k + 1; // a quote never closed is dropped
      } else if (c === '\\' && k + 1 < to) {
        word += text[k + 1];
        k += 2;
      } else {
        word += c;
        k++;
      }
    }
    if (word) words.push({ word, at });
  }
  return words;
}

function commandOf(
  text: string,
  words: { word: string; at: number }[],
  end: number,
): ShellCommand | undefined {
  let k = 0;
  let busybox = false;
  for (; k < words.length; k++) {
    const name = baseName(words[k]!.word);
    if (name === 'busybox') busybox = true;
    else if (SHELLS.has(name) && words[k + 1]?.word === '-c') {
      // sh -c "a; b": the quoted line is read on its own (scanCommands)
      k += words[k + 2]?.word.includes(' ') ? 2 : 1;
    } else if (
      !PREFIX_WORDS.has(name) &&
      !PREFIX_WORDS.has(words[k]!.word.toLowerCase()) && // /c, /b: cmd's switches, not paths
      !/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[k]!.word)
    )
      break;
  }
  const first = words[k];
  if (!first) return undefined;
  return {
    program: baseName(first.word),
    args: words.slice(k + 1).map((w) => w.word),
    offset: first.at,
    text: text.slice(first.at, end).trimEnd(),
    busybox,
  };
}

/** A program word as its name: no path, no leading @ (cmd.exe's echo-off), lower case. */
function baseName(word: string): string {
  return (word.split(/[/\\]/).pop() ?? '').replace(/^@/, '').toLowerCase();
}

/** A word that is a redirection (>, >>, 2>, 2>&1, >file, <file); `attached` when it carries its target. */
export function redirection(word: string): { attached: boolean } | undefined {
  const m = /^[0-9]*(?:>>?|<)(&?[0-9]*)(.*)$/.exec(word);
  if (!m) return undefined;
  return { attached: m[1] !== '' || m[2] !== '' };
}

/**
 * A command's words as options and arguments. `valueOptions` are the short
 * option letters and long option names that take a value (the next word, or
 * the rest of the word: -Ofile, --output=file); other letters are flags and
 * may be clustered (-qO-). Redirections and their targets are dropped.
 */
export function parseOptions(
  args: string[],
  valueOptions: { short: string; long?: string[] },
): { options: Map<string, string | true>; operands: string[] } {
  const options = new Map<string, string | true>();
  const operands: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const w = args[k]!;
    const redirect = redirection(w);
    if (redirect) {
      if (!redirect.attached) k++;
      continue;
    }
    if (w.startsWith('--') && w.length > 2) {
      const eq = w.indexOf('=');
      const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
      if (eq >= 0) options.set(name, w.slice(eq + 1));
      else if (valueOptions.long?.includes(name) && k + 1 < args.length)
        options.set(name, args[++k]!);
      else options.set(name, true);
    } else if (w.startsWith('-') && w.length > 1) {
      for (let j = 1; j < w.length; j++) {
        const letter = w[j]!;
        if (!valueOptions.short.includes(letter)) {
          options.set(letter, true);
          continue;
        }
        const rest = w.slice(j + 1);
        if (rest) options.set(letter, rest);
        else if (k + 1 < args.length) options.set(letter, args[++k]!);
        else options.set(letter, true);
        break;
      }
    } else operands.push(w);
  }
  return { options, operands };
}

/** The value of the first of `names` that was given with a value. */
export function optionValue(
  options: Map<string, string | true>,
  ...names: string[]
): string | undefined {
  for (const n of names) {
    const v = options.get(n);
    if (typeof v === 'string') return v;
  }
  return undefined;
}

// ---- hosts and URLs ----

/** A host as attack text names it: a dotted IPv4 address, an IPv6 address or a dotted name. */
export function plausibleHost(h: string): boolean {
  if (h.includes(':')) return /^\[?[0-9A-Fa-f:.]+\]?$/.test(h) && h.split(':').length > 2;
  if (/^[0-9.]+$/.test(h))
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(h) && h.split('.').every((o) => Number(o) < 256);
  return /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\.?$/.test(h) && /[A-Za-z]/.test(h.split('.').pop()!);
}

/** The port each scheme uses when a URL names none. */
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ftp: 21, tftp: 69 };

/**
 * The URL a command line fetches: `scheme://[user[:pass]@]host[:port]/file`,
 * credentials and path segments percent-encoded, IPv6 in brackets, the port
 * left out when it is the scheme's default.
 */
export function downloadUrl(
  scheme: string,
  d: { host: string; port?: number | undefined; user?: string; pass?: string; file: string },
): string {
  const cred =
    d.user === undefined
      ? ''
      : `${encodeURIComponent(d.user)}${d.pass === undefined ? '' : `:${encodeURIComponent(d.pass)}`}@`;
  const host = d.host.includes(':') && !d.host.startsWith('[') ? `[${d.host}]` : d.host;
  const port = d.port === undefined || d.port === DEFAULT_PORTS[scheme] ? '' : `:${d.port}`;
  const path = d.file.split('/').map(encodeURIComponent).join('/');
  return `${scheme}://${cred}${host}${port}${path.startsWith('/') ? path : `/${path}`}`;
}

/** A valid port number as written (1-65535), or undefined. */
export function portNumber(word: string | undefined): number | undefined {
  if (word === undefined || !/^\d{1,5}$/.test(word)) return undefined;
  const p = Number(word);
  return p >= 1 && p <= 65535 ? p : undefined;
}

/**
 * Every URL of these schemes in `text`, with its offset. A URL ends at white
 * space, a quote, < > ` \ ^ { } | ; or a control byte, and loses trailing
 * punctuation (. , : ! ? *, an unbalanced ) or ]).
 */
export function findUrls(text: string, schemes: string[]): { url: string; offset: number }[] {
  const re = new RegExp(
    `(?<![A-Za-z0-9_+.-])(?:${schemes.join('|')})://[^\\s"'<>\`\\\\^{}|;\\x00-\\x1f\\x7f-\\xff]+`,
    'gi',
  );
  const out: { url: string; offset: number }[] = [];
  for (const m of text.matchAll(re)) {
    let url = m[0];
    for (;;) {
      const last = url[url.length - 1]!;
      if ('.,:!?*&'.includes(last)) url = url.slice(0, -1);
      else if (last === ')' && count(url, '(') < count(url, ')')) url = url.slice(0, -1);
      else if (last === ']' && count(url, '[') < count(url, ']')) url = url.slice(0, -1);
      else break;
    }
    if (validUrl(url)) out.push({ url, offset: m.index });
  }
  return out;
}

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

function validUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return plausibleHost(u.hostname.replace(/^\[|\]$/g, '')) || u.hostname === 'localhost';
  } catch {
    return false;
  }
}

/**
 * The text an HTTP server would see once it percent-decodes a request ("+" a
 * space): exploits put their commands in query strings and form bodies
 * (GET /shell?cd+/tmp;wget+http://…). Undefined when `text` is not an HTTP
 * request or has nothing encoded.
 */
export function formDecoded(text: string): string | undefined {
  if (!/^[A-Z][A-Z_-]{2,15} [^ \r\n]+ HTTP\/\d/m.test(text) || !/[%+]/.test(text)) return undefined;
  return text
    .replace(/\+/g, ' ')
    .replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * The URLs url-extract found in this attack (its `url` findings and the
 * `url` its `command` findings rebuilt), for a plugin with
 * `"after": ["url-extract"]`. Empty when url-extract did not run.
 */
export function urlExtractTargets(
  results: Record<string, PluginOutput> | undefined,
  schemes: string[],
): DownloadTarget[] {
  const out: DownloadTarget[] = [];
  for (const f of results?.['url-extract']?.findings ?? []) {
    const url = f.type === 'url' ? f.value : f.type === 'command' ? f.meta?.url : undefined;
    if (typeof url !== 'string') continue;
    const scheme = /^([A-Za-z]+):\/\//.exec(url)?.[1]?.toLowerCase();
    if (!scheme || !schemes.includes(scheme)) continue;
    out.push({
      url,
      ...(f.offset === undefined ? {} : { offset: f.offset }),
      via:
        f.type === 'command' ? `url-extract ${String(f.meta?.tool ?? 'command')}` : 'url-extract',
    });
  }
  return out;
}

/** The input of an attack or artifact task as latin1 text (one character per byte). */
export function taskText(input: {
  kind: string;
  attack: { received: { data: string } };
  artifact?: { data: string };
}): string {
  const b64 = input.kind === 'artifact' ? (input.artifact?.data ?? '') : input.attack.received.data;
  return Buffer.from(b64, 'base64').toString('latin1');
}

// ---- fetching ----

/** Something to download, and where it was found. */
export interface DownloadTarget {
  url: string;
  /** Byte offset in the input where it was found (the finding's offset). */
  offset?: number;
  /** How it was found: url, wget, curl, tftp, ftpget, ftp-script, url-extract ... */
  via?: string;
}

export interface DownloadOptions {
  /** At most this many targets are fetched per task; the rest get one `note` finding. */
  maxDownloads: number;
  /** Largest file; a longer one is cut by the host and recorded as failed (truncated). */
  maxBytes?: number;
  /** Per target, redirects included; the host's plugins.network.timeoutMs caps each request. */
  timeoutMs?: number;
  /** http(s) redirects followed (each hop through ctx.fetch, so the same egress checks). Default 3. */
  maxRedirects?: number;
  /** Date.now() after which nothing more is fetched (keep it inside the manifest's limits.timeoutMs). */
  deadline?: number;
}

/** Fetches at once per task: the worker engine's own cap, so a fetch's time starts when it is sent. */
const FETCHES_AT_ONCE = 8;
/** Below this much time left, a request is not started. */
const MIN_REQUEST_MS = 100;

/** Whether the answer is the file: a 2xx HTTP or FTP reply, TFTP's 0 (transfer complete). */
function succeeded(url: string, status: number): boolean {
  return url.toLowerCase().startsWith('tftp:') ? status === 0 : status >= 200 && status < 300;
}

/** The last path segment of a URL, decoded; the host when there is none. */
export function fileName(url: string): string {
  try {
    const u = new URL(url);
    const last = u.pathname.split('/').pop() ?? '';
    let name = last;
    try {
      name = decodeURIComponent(last);
    } catch {
      // not valid percent-encoding: keep it as written
    }
    return (name || u.hostname).slice(0, 255); // the host's limit for an artifact name
  } catch {
    return 'download';
  }
}

type Meta = Record<string, string | number | boolean>;

/** Longer URLs are not fetched. */
const MAX_URL = 8192;

/** A URL as the WHATWG parser writes it, so two spellings of one URL are one target. */
function urlKey(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url; // not a URL: fetched (and refused by the host) as written
  }
}

/**
 * One target: fetched (following http redirects), described, and turned into
 * its finding and, when the file came, an artifact.
 */
async function downloadOne(
  ctx: Pick<PluginContext, 'fetch'>,
  target: DownloadTarget,
  opts: DownloadOptions,
): Promise<{ finding: Finding; data?: Buffer }> {
  const meta: Meta = {};
  if (target.via) meta.via = target.via;
  let url = target.url;
  let res: FetchResponse | undefined;
  const started = Date.now();
  const until = Math.min(
    opts.timeoutMs === undefined ? Infinity : started + opts.timeoutMs,
    opts.deadline ?? Infinity,
  );
  try {
    for (let hop = 0; ; hop++) {
      const left = until - Date.now();
      if (left < MIN_REQUEST_MS)
        throw Object.assign(new Error(`no time left for ${url} (timeoutMs or the task's time)`), {
          code: 'HT_PLUGIN_TIMEOUT',
        });
      res = await ctx.fetch({
        url,
        ...(opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes }),
        ...(left === Infinity ? {} : { timeoutMs: Math.floor(left) }),
      });
      const location = res.headers.location;
      if (!/^https?:/i.test(url) || res.status < 300 || res.status > 399 || !location) break;
      if (hop >= (opts.maxRedirects ?? 3)) break;
      url = new URL(location, url).href;
      meta.redirects = hop + 1;
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    meta.status = code === 'HT_PLUGIN_DENIED' ? 'refused' : 'failed';
    meta.error = err instanceof Error ? err.message : String(err);
    if (typeof code === 'string') meta.errorCode = code;
    meta.durationMs = Date.now() - started;
    return { finding: downloadFinding(target, meta) };
  }
  if (url !== target.url) meta.finalUrl = url;
  meta.code = res.status;
  if (res.statusText) meta.statusText = res.statusText;
  if (res.address) meta.address = res.address;
  meta.durationMs = res.durationMs ?? Date.now() - started;
  const serverType = res.headers['content-type'];
  if (serverType) meta.serverType = serverType;
  const data = Buffer.from(res.body, 'base64');
  const ok = succeeded(url, res.status) && !res.truncated;
  meta.status = ok ? 'ok' : 'failed';
  if (res.truncated) {
    meta.truncated = true;
    meta.error = `cut at ${data.length} bytes (the file is larger than the size limit)`;
  } else if (!ok) meta.error = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  if (ok || data.length) Object.assign(meta, describeFile(data));
  return ok
    ? { finding: downloadFinding(target, meta), data }
    : { finding: downloadFinding(target, meta) };
}

function downloadFinding(target: DownloadTarget, meta: Meta): Finding {
  return {
    type: 'download',
    value: target.url,
    ...(target.offset === undefined ? {} : { offset: target.offset }),
    meta,
  };
}

/**
 * Fetches each target once (the first time its URL is named; targets beyond
 * maxDownloads are not fetched and counted in a `note` finding), at the same
 * time, through ctx.fetch. Every attempt becomes a `download` finding whose
 * value is the URL and whose meta has `status` (ok, failed: the server said
 * no, the connection failed or timed out, the file was too large; refused:
 * the host's egress policy said no), `code`/`statusText` (the protocol's
 * answer) or `error`/`errorCode`, and for a file: `size`, `md5`, `sha1`,
 * `sha256`, `sha512`, `fileType`, `fileDescription`, `contentType`. Each file
 * fetched is an artifact named after the URL's last path segment (one per
 * distinct content).
 */
export async function downloadAll(
  ctx: Pick<PluginContext, 'fetch' | 'log'>,
  targets: DownloadTarget[],
  opts: DownloadOptions,
): Promise<{ findings: Finding[]; artifacts: ArtifactOut[] }> {
  const seen = new Set<string>();
  const unique: DownloadTarget[] = [];
  for (const t of targets) {
    // a finding's value is at most 64 KiB; no download URL is anywhere near this long
    if (t.url.length > MAX_URL) {
      ctx.log(`skipped a ${t.url.length}-character URL (more than ${MAX_URL})`);
      continue;
    }
    const key = urlKey(t.url);
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(t);
  }
  const chosen = unique.slice(0, opts.maxDownloads);
  const results: Awaited<ReturnType<typeof downloadOne>>[] = [];
  let nextTarget = 0;
  const worker = async () => {
    for (let k = nextTarget++; k < chosen.length; k = nextTarget++)
      results[k] = await downloadOne(ctx, chosen[k]!, opts);
  };
  await Promise.all(Array.from({ length: Math.min(FETCHES_AT_ONCE, chosen.length) }, worker));
  const findings = results.map((r) => r.finding);
  const artifacts: ArtifactOut[] = [];
  const stored = new Set<string>();
  results.forEach((r, k) => {
    const sha256 = r.finding.meta?.sha256;
    if (!r.data || typeof sha256 !== 'string' || stored.has(sha256)) return;
    stored.add(sha256);
    artifacts.push({
      name: fileName(chosen[k]!.url),
      contentType: String(r.finding.meta?.contentType),
      data: r.data.toString('base64'),
    });
  });
  const skipped = unique.length - chosen.length;
  if (skipped > 0) {
    const note = `${skipped} more download target(s) not fetched (maxDownloads ${opts.maxDownloads})`;
    ctx.log(note);
    findings.push({ type: 'note', value: note });
  }
  return { findings, artifacts };
}

// ---- a download plugin ----

/** The config every download plugin takes (plugins.config.<name>); its configSchema gives the defaults. */
export interface DownloadConfig {
  /** Targets fetched per task (default 5). */
  maxDownloads?: number;
  /** Largest file in bytes; the host's plugins.network.maxBytes caps it. */
  maxBytes?: number;
  /** Per fetch, in ms; the host's plugins.network.timeoutMs caps it. */
  timeoutMs?: number;
  /** Also fetch URLs written outside a command line (default true). */
  bareUrls?: boolean;
}

/** What makes one download plugin: its URL schemes and the command lines it reads. */
export interface DownloadPluginSpec {
  /** URL schemes it fetches (the manifest's capabilities.network.schemes). */
  schemes: string[];
  /** The targets of the command lines in `text` (latin1), with their offsets. */
  commands(text: string): DownloadTarget[];
}

/**
 * A worker plugin that downloads what an attack (or a text artifact, such as
 * a decoded payload or a downloaded script) points at: the targets of
 * `spec.commands`, in the text and in its percent-decoded form when it is an
 * HTTP request; the URLs url-extract found (with `"after": ["url-extract"]`);
 * and URLs of `spec.schemes` anywhere in the text unless config bareUrls is
 * false. Each is fetched once; see downloadAll for what is recorded. Then,
 * once, the same for the text files it fetched (a dropper's script and the
 * binaries it fetches), within the same maxDownloads.
 */
/**
 * How long a download plugin's task fetches: inside the 120 s of
 * limits.timeoutMs its manifest gives, so its findings are returned (a task
 * that times out returns nothing).
 */
const TASK_MS = 100_000;

export function downloadPlugin(spec: DownloadPluginSpec): WorkerPlugin<DownloadConfig> {
  /**
   * The targets named in `text`: its commands, then `more`, then its URLs;
   * also in its percent-decoded form when it is an HTTP request.
   */
  const targetsIn = (text: string, bareUrls: boolean, more: DownloadTarget[] = []) => {
    const decoded = formDecoded(text);
    // A decoded text's offsets are not the input's: its targets carry none.
    const fromDecoded = (targets: DownloadTarget[]) =>
      targets.map(({ url, via }) => ({ url, via: `${via ?? 'url'} (decoded)` }));
    const urls = (t: string) =>
      bareUrls ? findUrls(t, spec.schemes).map((u) => ({ ...u, via: 'url' })) : [];
    return [
      ...spec.commands(text),
      ...(decoded ? fromDecoded(spec.commands(decoded)) : []),
      ...more,
      ...urls(text),
      ...(decoded ? fromDecoded(urls(decoded)) : []),
    ];
  };
  return {
    async analyze(input, ctx) {
      const bareUrls = ctx.config.bareUrls !== false;
      const maxDownloads = ctx.config.maxDownloads ?? 5;
      const deadline = Date.now() + TASK_MS;
      const opts = (max: number): DownloadOptions => ({
        maxDownloads: max,
        deadline,
        ...(ctx.config.maxBytes === undefined ? {} : { maxBytes: ctx.config.maxBytes }),
        ...(ctx.config.timeoutMs === undefined ? {} : { timeoutMs: ctx.config.timeoutMs }),
      });
      const found = urlExtractTargets(input.results, spec.schemes);
      const first = await downloadAll(
        ctx,
        targetsIn(taskText(input), bareUrls, found),
        opts(maxDownloads),
      );
      // One level of scripts, in the same task: the host never hands a plugin
      // its own artifacts, so a dropper's bins.sh would not lead to its binaries.
      const attempted = new Set(
        first.findings.flatMap((f) => (f.type === 'download' ? [urlKey(f.value)] : [])),
      );
      const next = first.artifacts
        .filter((a) => a.contentType?.startsWith('text/'))
        .flatMap((a) =>
          targetsIn(Buffer.from(a.data, 'base64').toString('latin1'), bareUrls).map((t) => ({
            url: t.url,
            via: `${t.via ?? 'url'} in ${a.name ?? 'a download'}`,
          })),
        )
        .filter((t) => !attempted.has(urlKey(t.url)));
      const budget = maxDownloads - attempted.size;
      if (next.length === 0) return first;
      if (budget <= 0) {
        const note = `${new Set(next.map((t) => t.url)).size} download target(s) in downloaded scripts not fetched (maxDownloads ${maxDownloads})`;
        ctx.log(note);
        return { ...first, findings: [...first.findings, { type: 'note', value: note }] };
      }
      const second = await downloadAll(ctx, next, opts(budget));
      const stored = new Set(first.artifacts.map((a) => a.data));
      return {
        findings: [...first.findings, ...second.findings],
        artifacts: [...first.artifacts, ...second.artifacts.filter((a) => !stored.has(a.data))],
      };
    },
  };
}
