// url-extract: the URLs and the download command lines (wget, curl, tftp, ftp,
// ftpget, their busybox forms, "| sh" pipelines) in what an attacker sent and
// in text artifacts (payloads another plugin decoded), as `url` and `command`
// findings with their byte offsets.
//
// The input is read as latin1 (one character per byte), so string offsets are
// byte offsets. HTTP requests are also read the way the server would: the
// request target and form bodies percent-decoded ("+" a space), because that
// is where exploits put their commands (/shell?cd+/tmp;wget+http://...). A
// finding there has the decoded value and the offset of its first byte in the
// input.
//
// This file is the plugin as shipped: it must stand alone (no imports).

/** @typedef {import('@honeytrap/sdk').WorkerPlugin} WorkerPlugin */
/** @typedef {import('@honeytrap/sdk').Finding} Finding */

/** The host accepts 1000 findings per result; this many is plenty for one input. */
const MAX_FINDINGS = 500;
/** A command line longer than this is cut (its value ends there). */
const MAX_COMMAND = 4096;

const SCHEMES = { http: 80, https: 443, ftp: 21, tftp: 69 };

// ---- character classes (tables, not regexes with control characters) ----

const URL_CHAR = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!*+,=%&()')
  URL_CHAR[c.charCodeAt(0)] = 1;
// Left out on purpose: white space and control bytes, non-ASCII, the quotes " ' `,
// < > { } | ^ \, and ; $ which in attack data end a URL far more often than
// they belong to one (cd /tmp;wget http://x/a.sh;sh a.sh, ${IFS}).

const HOST_CHAR = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._')
  HOST_CHAR[c.charCodeAt(0)] = 1;

/** Before a scheme: anything but a letter or digit (so "xhttp://" is not a URL). */
const WORD_CHAR = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_')
  WORD_CHAR[c.charCodeAt(0)] = 1;

const isUrlChar = (c) => c < 256 && URL_CHAR[c] === 1;
const isWordChar = (c) => c < 256 && WORD_CHAR[c] === 1;

// ---- URLs ----

const SCHEME_RE = /(?:https?|tftp|ftp):\/\//gi;

/**
 * Checks the host part of a URL (a name, a dotted IPv4 address, an IPv6
 * address in brackets). Returns it for meta (lower case, IPv6 without
 * brackets), or undefined when it is not a host.
 * @param {string} h
 */
function checkHost(h) {
  if (h.startsWith('[')) {
    if (!h.endsWith(']')) return undefined;
    const inner = h.slice(1, -1);
    if (!/^[0-9a-fA-F:.]+$/.test(inner) || !inner.includes(':')) return undefined;
    try {
      // WHATWG URL parsing checks the IPv6 syntax (no node:net in the worker).
      new URL(`http://${h}/`);
    } catch {
      return undefined;
    }
    return inner.toLowerCase();
  }
  if (!h || h.length > 253) return undefined;
  for (let i = 0; i < h.length; i++) if (!HOST_CHAR[h.charCodeAt(i)]) return undefined;
  const name = h.endsWith('.') ? h.slice(0, -1) : h;
  const labels = name.split('.');
  if (labels.some((l) => l.length === 0 || l.length > 63)) return undefined;
  if (/^[0-9.]+$/.test(name)) {
    // all digits: only a dotted IPv4 address is a host
    if (labels.length !== 4 || labels.some((l) => l.length > 3 || Number(l) > 255))
      return undefined;
  }
  return name.toLowerCase();
}

/**
 * The URL that starts at `at` (its scheme) in `text`, or undefined.
 * @param {string} text
 * @param {number} at
 * @param {number} schemeEnd index after "://"
 */
function urlAt(text, at, schemeEnd) {
  let end = schemeEnd;
  while (end < text.length && isUrlChar(text.charCodeAt(end))) end++;
  let raw = text.slice(at, end);
  // a shell's "&&" ends it; so does trailing punctuation of the sentence or command around it
  const amp = raw.indexOf('&&');
  if (amp >= 0) raw = raw.slice(0, amp);
  for (;;) {
    const last = raw[raw.length - 1];
    if ('.,:!?&*'.includes(last)) raw = raw.slice(0, -1);
    else if (last === ')' && count(raw, '(') < count(raw, ')')) raw = raw.slice(0, -1);
    else if (last === ']' && count(raw, '[') < count(raw, ']')) raw = raw.slice(0, -1);
    else break;
  }
  return parseUrl(raw);
}

/** @param {string} s @param {string} ch */
function count(s, ch) {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

/**
 * Splits and checks a URL (scheme://[user@]host[:port][/path][?query][#fragment]).
 * @param {string} raw
 * @returns {{ value: string, meta: Record<string, string | number> } | undefined}
 */
function parseUrl(raw) {
  const m = /^([A-Za-z]+):\/\//.exec(raw);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (!Object.hasOwn(SCHEMES, scheme)) return undefined;
  const rest = raw.slice(m[0].length);
  const slash = rest.search(/[/?#]/);
  let authority = slash < 0 ? rest : rest.slice(0, slash);
  const tail = slash < 0 ? '' : rest.slice(slash);
  /** @type {Record<string, string | number>} */
  const meta = { scheme };
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const user = authority.slice(0, at).split(':')[0];
    if (user) meta.user = user;
    authority = authority.slice(at + 1);
  }
  let hostText = authority;
  let port = SCHEMES[scheme];
  const portMatch = /:(\d*)$/.exec(authority);
  if (portMatch && !(authority.startsWith('[') && !authority.includes(']:'))) {
    hostText = authority.slice(0, portMatch.index);
    if (portMatch[1] !== '') {
      port = Number(portMatch[1]);
      if (portMatch[1].length > 5 || port < 1 || port > 65535) return undefined;
    }
  }
  const host = checkHost(hostText);
  if (host === undefined) return undefined;
  meta.host = host;
  meta.port = port;
  const hash = tail.indexOf('#');
  const noFragment = hash < 0 ? tail : tail.slice(0, hash);
  const q = noFragment.indexOf('?');
  meta.path = (q < 0 ? noFragment : noFragment.slice(0, q)) || '/';
  if (q >= 0) meta.query = noFragment.slice(q + 1);
  return { value: raw, meta };
}

/**
 * Every URL in `text`.
 * @param {string} text
 * @returns {{ offset: number, end: number, value: string, meta: Record<string, string | number> }[]}
 */
function findUrls(text) {
  const out = [];
  SCHEME_RE.lastIndex = 0;
  for (let m = SCHEME_RE.exec(text); m; m = SCHEME_RE.exec(text)) {
    if (m.index > 0 && isWordChar(text.charCodeAt(m.index - 1))) continue;
    const u = urlAt(text, m.index, m.index + m[0].length);
    if (!u) continue;
    out.push({ offset: m.index, end: m.index + u.value.length, value: u.value, meta: u.meta });
    SCHEME_RE.lastIndex = m.index + u.value.length;
    if (out.length >= MAX_FINDINGS) break;
  }
  return out;
}

// ---- command lines ----

const TOOLS = new Set(['wget', 'curl', 'tftp', 'ftp', 'ftpget']);
/** Words after which a command may start (sudo wget ..., then wget ...). */
const PREFIX_WORDS = new Set([
  'sudo',
  'nohup',
  'exec',
  'then',
  'do',
  'else',
  'command',
  'eval',
  'time',
]);
/** Characters after which a command may start: start of a line, ; & | ( ` { quotes, = (form values). */
const COMMAND_START = new Set(['\n', '\r', '\0', ';', '&', '|', '(', '`', '{', '"', "'", '=']);

const TOOL_RE =
  /(?<![A-Za-z0-9_.-])(?:busybox|wget|curl|tftp|ftpget|ftp)(?=[ \t]|\$\{IFS\}|\$IFS(?![A-Za-z0-9_]))/g;
const SHELL_RE =
  /^[ \t]*(?:sudo[ \t]+)?(?:\/usr)?(?:\/bin\/)?(?:busybox[ \t]+)?((?:ba|da|z|k|a)?sh)(?![A-Za-z0-9_.-])/;

/** Length of the separator at i ($IFS, ${IFS}, a space or a tab), 0 when there is none. */
function separatorAt(text, i) {
  const c = text[i];
  if (c === ' ' || c === '\t') return 1;
  if (c === '$') {
    if (text.startsWith('${IFS}', i)) return 6;
    if (text.startsWith('$IFS', i) && !isWordChar(text.charCodeAt(i + 4))) return 4;
  }
  return 0;
}

/** Index of the last character before i that is not a separator, or -1. */
function previousSignificant(text, i) {
  let j = i - 1;
  for (;;) {
    while (j >= 0 && (text[j] === ' ' || text[j] === '\t')) j--;
    if (j >= 5 && text.startsWith('${IFS}', j - 5)) j -= 6;
    else if (j >= 3 && text.startsWith('$IFS', j - 3)) j -= 4;
    else return j;
  }
}

/**
 * Where the command whose program name starts at `nameAt` begins (its path,
 * /bin/busybox), and the quote it sits in, or undefined when the word is not
 * in a command position (a User-Agent "curl/7.1", prose).
 */
function commandStart(text, nameAt) {
  let start = nameAt;
  if (start > 0 && text[start - 1] === '/') {
    while (start > 0 && /[A-Za-z0-9_./-]/.test(text[start - 1])) start--;
  }
  const j = previousSignificant(text, start);
  if (j < 0) return { start, quote: '' };
  const c = text[j];
  if (COMMAND_START.has(c)) return { start, quote: enclosingQuote(text, start) };
  if (isWordChar(text.charCodeAt(j))) {
    let k = j;
    while (k > 0 && isWordChar(text.charCodeAt(k - 1))) k--;
    if (PREFIX_WORDS.has(text.slice(k, j + 1)))
      return { start, quote: enclosingQuote(text, start) };
  }
  return undefined;
}

/**
 * The quote the text at `pos` is inside on its line ('"', "'" or ''): a
 * command in `bash -c "..."` or in a JSON string ends at its closing quote.
 */
function enclosingQuote(text, pos) {
  const lineStart = Math.max(text.lastIndexOf('\n', pos - 1) + 1, pos - 8192);
  let q = '';
  for (let i = lineStart; i < pos; i++) {
    const c = text[i];
    if (q === "'") {
      if (c === "'") q = '';
    } else if (c === '\\') i++;
    else if (c === '"') q = q === '"' ? '' : '"';
    else if (c === "'" && q === '') q = "'";
  }
  return q;
}

/**
 * Reads the words of a command from `from` to where it ends: ; && || a pipe
 * (unless into a shell), a line end, a backtick, an unbalanced ) or }, or the
 * closing quote of the string the command is in.
 * @returns {{ end: number, words: string[], pipeTo?: string }}
 */
function readCommand(text, from, quote) {
  const words = [];
  let pipeTo;
  let i = from;
  let depth = 0;
  let end = from;
  let stop = false;
  const limit = Math.min(text.length, from + MAX_COMMAND);
  const closes = (k) =>
    quote !== '' && (text[k] === quote || (text[k] === '\\' && text[k + 1] === quote));
  const lineEnd = (k) =>
    '\n\r\0;`'.includes(text[k]) ||
    closes(k) ||
    (text[k] === '\\' && (text[k + 1] === 'n' || text[k + 1] === 'r')); // \n in a JSON or echo string
  while (i < limit && !stop) {
    const sep = separatorAt(text, i);
    if (sep) {
      i += sep;
      continue;
    }
    const c = text[i];
    if (lineEnd(i) || ((c === ')' || c === '}') && depth === 0)) break;
    if (c === '&' && text[i + 1] !== '>') break; // & and &&; &>file is a redirection
    if (c === '|') {
      if (text[i + 1] === '|') break;
      const sh = SHELL_RE.exec(text.slice(i + 1, i + 64));
      if (!sh) break;
      pipeTo = sh[1];
      i += 1 + sh[0].length;
      end = i;
      continue;
    }
    // one word, its quotes removed
    let word = '';
    while (i < limit) {
      const ch = text[i];
      if (separatorAt(text, i) || lineEnd(i) || ch === '|') break;
      if (ch === '&' && !/[<>]/.test(text[i - 1] ?? '') && text[i + 1] !== '>') break;
      if (ch === ')' || ch === '}') {
        if (depth === 0) break;
        depth--;
      }
      if (ch === '(' || ch === '{') depth++;
      if (ch === '"' || ch === "'") {
        const close = text.indexOf(ch, i + 1);
        const nl = text.indexOf('\n', i + 1);
        if (close < 0 || (nl >= 0 && nl < close) || close >= limit) {
          stop = true; // an unbalanced quote: the command ends before it
          break;
        }
        word += text.slice(i + 1, close);
        i = close + 1;
        continue;
      }
      if (ch === '\\' && i + 1 < limit) {
        word += text[i + 1];
        i += 2;
        continue;
      }
      word += ch;
      i++;
    }
    if (word === '') break;
    words.push(word);
    end = i;
  }
  return { end, words, pipeTo };
}

/** Options of each tool that take a value (the next word, or the rest of a -xVALUE cluster). */
const VALUE_OPTIONS = {
  wget: {
    short: 'oaeiBtOTwQPUlARDIX',
    long: new Set([
      'output-document',
      'output-file',
      'append-output',
      'execute',
      'input-file',
      'base',
      'tries',
      'timeout',
      'wait',
      'waitretry',
      'quota',
      'directory-prefix',
      'user-agent',
      'level',
      'accept',
      'reject',
      'domains',
      'include-directories',
      'exclude-directories',
      'header',
      'post-data',
      'post-file',
      'body-data',
      'body-file',
      'method',
      'user',
      'password',
      'http-user',
      'http-password',
      'ftp-user',
      'ftp-password',
      'referer',
      'load-cookies',
      'save-cookies',
      'bind-address',
      'dns-timeout',
      'connect-timeout',
      'read-timeout',
      'limit-rate',
    ]),
    output: { short: 'O', long: 'output-document' },
  },
  curl: {
    short: 'oAHdXumxebcTrwFKECyYzUQPt',
    long: new Set([
      'output',
      'user-agent',
      'header',
      'data',
      'data-binary',
      'data-raw',
      'data-ascii',
      'data-urlencode',
      'request',
      'user',
      'max-time',
      'connect-timeout',
      'proxy',
      'referer',
      'cookie',
      'cookie-jar',
      'upload-file',
      'range',
      'write-out',
      'form',
      'config',
      'retry',
      'retry-delay',
      'retry-max-time',
      'limit-rate',
      'resolve',
      'interface',
      'url',
      'output-dir',
      'continue-at',
      'max-filesize',
      'local-port',
      'proxy-user',
      'speed-time',
      'speed-limit',
      'connect-to',
    ]),
    output: { short: 'o', long: 'output' },
  },
  tftp: { short: 'lrbmRB', long: new Set(), output: { short: 'l', long: '' } },
  ftpget: {
    short: 'upP',
    long: new Set(['username', 'password', 'port']),
    output: { short: '', long: '' },
  },
  ftp: { short: 'oPNqrsTx', long: new Set(), output: { short: 'o', long: '' } },
};

/**
 * Splits a tool's words into options (name -> value or true) and positional
 * arguments. `tftp ... -c get FILE` stops at -c: the rest is its command.
 */
function parseArgs(tool, words) {
  const spec = VALUE_OPTIONS[tool];
  /** @type {[string, string | true][]} */
  const opts = [];
  const args = [];
  let rest = [];
  for (let k = 0; k < words.length; k++) {
    const w = words[k];
    if (tool === 'tftp' && w === '-c') {
      rest = words.slice(k + 1);
      break;
    }
    if (/^[0-9]*[<>]/.test(w)) {
      // a redirection (> /dev/null, 2>&1): its target may be the next word
      if (/^[0-9]*[<>]+&?$/.test(w)) k++;
      continue;
    }
    if (w.startsWith('--') && w.length > 2) {
      const eq = w.indexOf('=');
      const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
      if (eq >= 0) opts.push([name, w.slice(eq + 1)]);
      else if (spec.long.has(name) && k + 1 < words.length) opts.push([name, words[++k]]);
      else opts.push([name, true]);
      continue;
    }
    if (w.startsWith('-') && w.length > 1) {
      for (let j = 1; j < w.length; j++) {
        const letter = w[j];
        if (spec.short.includes(letter)) {
          const attached = w.slice(j + 1);
          if (attached !== '') opts.push([letter, attached]);
          else if (k + 1 < words.length) opts.push([letter, words[++k]]);
          else opts.push([letter, true]);
          break;
        }
        opts.push([letter, true]);
      }
      continue;
    }
    args.push(w);
  }
  return { opts, args, rest };
}

/** @param {[string, string | true][]} opts @param {string} name */
function option(opts, name) {
  for (const [k, v] of opts) if (k === name && typeof v === 'string') return v;
  return undefined;
}

/** A host a command names: an IP address or a dotted name ("tftp is old" is prose). */
function plausibleHost(h) {
  if (h.includes(':')) return checkHost(h.startsWith('[') ? h : `[${h}]`) !== undefined;
  return h.includes('.') && checkHost(h) !== undefined;
}

/** A host as a URL writes it: IPv6 in brackets. */
function urlHost(h) {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/** A file name as a URL path. */
function urlPath(file) {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return path.startsWith('/') ? path : `/${path}`;
}

/** A wget/curl argument as the URL it fetches (those tools default to http://). */
function fetchUrl(word) {
  if (/^[A-Za-z]+:\/\//.test(word)) {
    const u = parseUrl(word);
    return u ? u.value : undefined;
  }
  const u = parseUrl(`http://${word}`);
  // without a scheme, only something that looks like an address: a dotted name or an IP
  if (!u || !(String(u.meta.host).includes('.') || String(u.meta.host).includes(':')))
    return undefined;
  return u.value;
}

/** The URL a command fetches and what else is worth knowing, from its words. */
function describe(tool, words) {
  const { opts, args, rest } = parseArgs(tool, words);
  /** @type {Record<string, string | number | boolean>} */
  const meta = {};
  let url;
  if (tool === 'wget' || tool === 'curl') {
    const explicit = tool === 'curl' ? option(opts, 'url') : undefined;
    for (const a of explicit ? [explicit, ...args] : args) {
      url = fetchUrl(a);
      if (url) break;
    }
    const out = VALUE_OPTIONS[tool].output;
    const file = option(opts, out.short) ?? option(opts, out.long);
    if (file !== undefined) meta.output = file;
  } else if (tool === 'tftp') {
    // busybox: tftp [-g|-p] [-l LOCAL] [-r REMOTE] HOST [PORT]; tftp-hpa: tftp HOST [PORT] -c get REMOTE [LOCAL]
    let remote = option(opts, 'r');
    const local = option(opts, 'l');
    let put = opts.some(([k]) => k === 'p');
    if (rest.length >= 2) {
      put = rest[0] === 'put';
      if (rest[0] === 'get' || rest[0] === 'put') remote = rest[1];
    }
    remote ??= local;
    const [host, port] = args;
    if (put) meta.direction = 'put';
    if (host && plausibleHost(host)) {
      meta.host = host;
      const p = port && /^\d{1,5}$/.test(port) && Number(port) !== 69 ? `:${port}` : '';
      if (remote && !put) url = `tftp://${urlHost(host)}${p}${urlPath(remote)}`;
    }
    if (local !== undefined) meta.output = local;
  } else if (tool === 'ftpget') {
    // busybox: ftpget [-c] [-v] [-u USER] [-p PASS] [-P PORT] HOST [LOCAL] REMOTE
    const [host, a1, a2] = args;
    const remote = a2 ?? a1;
    const user = option(opts, 'u') ?? option(opts, 'username');
    const pass = option(opts, 'p') ?? option(opts, 'password');
    const port = option(opts, 'P') ?? option(opts, 'port');
    if (user !== undefined) meta.user = user;
    if (a2 !== undefined) meta.output = a1;
    if (host && plausibleHost(host) && remote) {
      const cred =
        user === undefined
          ? ''
          : `${encodeURIComponent(user)}${pass === undefined ? '' : `:${encodeURIComponent(pass)}`}@`;
      const p = port && /^\d{1,5}$/.test(port) && Number(port) !== 21 ? `:${port}` : '';
      url = `ftp://${cred}${urlHost(host)}${p}${urlPath(remote)}`;
      meta.host = host;
    }
  } else if (tool === 'ftp') {
    // ftp URL | ftp [-o OUT] [user@]host [port] (interactive: what it fetches comes later)
    for (const a of args) {
      if (/^[A-Za-z]+:\/\//.test(a)) {
        url = parseUrl(a)?.value;
        if (url) break;
      }
    }
    if (!url && args[0]) {
      const host = args[0].replace(/^.*@/, '');
      if (plausibleHost(host)) meta.host = host;
    }
    const file = option(opts, 'o');
    if (file !== undefined) meta.output = file;
  }
  if (url) meta.url = url;
  return meta;
}

/**
 * Every download command line in `text`.
 * @param {string} text
 */
function findCommands(text) {
  const out = [];
  let after = 0;
  TOOL_RE.lastIndex = 0;
  for (let m = TOOL_RE.exec(text); m; m = TOOL_RE.exec(text)) {
    if (m.index < after) continue;
    const where = commandStart(text, m.index);
    if (!where) continue;
    let tool = m[0];
    let argsFrom = m.index + tool.length;
    let busybox = false;
    if (tool === 'busybox') {
      // busybox APPLET: only the download applets
      let k = argsFrom;
      for (let s = separatorAt(text, k); s; s = separatorAt(text, k)) k += s;
      const applet = /^(?:wget|curl|tftp|ftpget|ftp)(?=[ \t]|\$\{?IFS)/.exec(text.slice(k, k + 8));
      if (!applet) continue;
      tool = applet[0];
      argsFrom = k + tool.length;
      busybox = true;
    }
    if (!TOOLS.has(tool)) continue;
    const cmd = readCommand(text, argsFrom, where.quote);
    if (cmd.words.length === 0) continue; // "/bin/busybox wget" alone: a probe for the applet
    let end = cmd.end;
    while (end > where.start && separatorAt(text, end - 1)) end--;
    /** @type {Record<string, string | number | boolean>} */
    const meta = { tool, ...describe(tool, cmd.words) };
    // only commands that fetch from somewhere: a URL, or at least a host
    if (meta.url === undefined && meta.host === undefined) continue;
    if (busybox) meta.busybox = true;
    if (cmd.pipeTo) meta.pipeTo = cmd.pipeTo;
    out.push({ offset: where.start, end, value: text.slice(where.start, end), meta });
    after = end;
    if (out.length >= MAX_FINDINGS) break;
  }
  return out;
}

// ---- HTTP: the request target and form bodies, percent-decoded ----

const REQUEST_RE = /(?:^|\n)([A-Z][A-Z_-]{2,15}) ([^ \t\r\n]+) HTTP\/\d(?:\.\d)?\r?\n/g;

/**
 * The parts of `text` an HTTP server would percent-decode: each request's
 * target, and its body when it is a form.
 * @returns {[number, number][]}
 */
function httpDecodedRegions(text) {
  /** @type {{ at: number, target: [number, number], headersAt: number }[]} */
  const requests = [];
  REQUEST_RE.lastIndex = 0;
  for (let m = REQUEST_RE.exec(text); m; m = REQUEST_RE.exec(text)) {
    const lineAt = m.index + (text[m.index] === '\n' ? 1 : 0);
    const targetAt = lineAt + m[1].length + 1;
    requests.push({
      at: lineAt,
      target: [targetAt, targetAt + m[2].length],
      headersAt: m.index + m[0].length,
    });
  }
  /** @type {[number, number][]} */
  const regions = [];
  requests.forEach((r, k) => {
    regions.push(r.target);
    const limit = k + 1 < requests.length ? requests[k + 1].at : text.length;
    // the headers end at the first empty line before the next request
    const own = text.slice(r.headersAt, limit);
    const crlf = own.indexOf('\r\n\r\n');
    const lf = own.indexOf('\n\n');
    let bodyAt = -1;
    if (crlf >= 0 && (lf < 0 || crlf < lf)) bodyAt = r.headersAt + crlf + 4;
    else if (lf >= 0) bodyAt = r.headersAt + lf + 2;
    if (bodyAt < 0 || bodyAt >= limit) return;
    const headers = text.slice(r.headersAt, bodyAt);
    const type = /^content-type:[ \t]*([^\r\n]*)/im.exec(headers)?.[1]?.toLowerCase();
    const length = /^content-length:[ \t]*(\d+)/im.exec(headers)?.[1];
    const bodyEnd = Math.min(limit, length === undefined ? limit : bodyAt + Number(length));
    const body = text.slice(bodyAt, Math.min(bodyEnd, bodyAt + 256));
    const form =
      type === undefined
        ? /^[A-Za-z0-9_.[\]%-]+=/.test(body)
        : type.includes('application/x-www-form-urlencoded');
    if (form && bodyEnd > bodyAt) regions.push([bodyAt, bodyEnd]);
  });
  return regions;
}

const hexValue = (c) => (c <= 57 ? c - 48 : (c | 32) - 87);

/**
 * text[from, to) percent-decoded ("+" a space), with the input offset of each
 * decoded character.
 */
function formDecode(text, from, to) {
  let out = '';
  const map = [];
  for (let i = from; i < to; i++) {
    const c = text[i];
    if (c === '%' && i + 2 < to && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out += String.fromCharCode(
        hexValue(text.charCodeAt(i + 1)) * 16 + hexValue(text.charCodeAt(i + 2)),
      );
      map.push(i);
      i += 2;
    } else {
      out += c === '+' ? ' ' : c;
      map.push(i);
    }
  }
  map.push(to);
  return { text: out, map };
}

// ---- the plugin ----

/**
 * URL and command findings of one text (offsets relative to it).
 * @param {string} text
 */
function scan(text) {
  return [
    ...findUrls(text).map((f) => ({ ...f, type: 'url' })),
    ...findCommands(text).map((f) => ({ ...f, type: 'command' })),
  ];
}

/**
 * @param {string} text the input as latin1
 * @returns {Finding[]}
 */
function extract(text) {
  const regions = httpDecodedRegions(text); // in input order, not overlapping
  const inRegion = (offset) => {
    let lo = 0;
    let hi = regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (offset < regions[mid][0]) hi = mid - 1;
      else if (offset >= regions[mid][1]) lo = mid + 1;
      else return true;
    }
    return false;
  };
  /** @type {Finding[]} */
  const findings = [];
  for (const f of scan(text)) {
    if (inRegion(f.offset)) continue;
    findings.push({ type: f.type, value: f.value, offset: f.offset, meta: f.meta });
  }
  for (const [a, b] of regions) {
    const d = formDecode(text, a, b);
    for (const f of scan(d.text)) {
      const offset = d.map[f.offset];
      // decoded: the value is not written as such in the input (%2F, + for a space)
      const meta =
        text.slice(offset, d.map[f.end]) === f.value ? f.meta : { ...f.meta, decoded: true };
      findings.push({ type: f.type, value: f.value, offset, meta });
    }
  }
  findings.sort((x, y) => (x.offset ?? 0) - (y.offset ?? 0) || (x.type < y.type ? -1 : 1));
  return findings.slice(0, MAX_FINDINGS);
}

/** @type {WorkerPlugin} */
export default {
  analyze(input, ctx) {
    const maxBytes = Number(ctx.config.maxBytes ?? 4 * 1024 * 1024);
    const b64 = input.kind === 'artifact' ? input.artifact?.data : input.attack.received.data;
    const bytes = Buffer.from(b64 ?? '', 'base64');
    if (bytes.length > maxBytes)
      ctx.log(`scanning the first ${maxBytes} of ${bytes.length} bytes (config maxBytes)`);
    // latin1: one character per byte, so string offsets are byte offsets.
    const text = bytes.subarray(0, maxBytes).toString('latin1');
    const findings = extract(text);
    if (findings.length >= MAX_FINDINGS) ctx.log(`stopped at ${MAX_FINDINGS} findings`);
    return { findings };
  },
};
