// xmatch: the operator's own pattern rules (strings, hex byte patterns,
// regular expressions) run over what an attacker sent and over every artifact,
// one `signature` finding per match with the rule's name and the byte offset.
//
// Rules come from the daemon's config (plugins.config.xmatch.rules), checked
// against the configSchema in plugin.json before the plugin ever sees them.
// Input bytes are matched as latin1 text (one character per byte), so string
// offsets are byte offsets and a regex's `.` or `[\x80-\xff]` is one byte.
//
// Regular expressions run on JavaScript's backtracking engine: a rule such as
// (a+)+$ can take exponential time on a hostile input. Nothing in here can
// stop a regex once it runs; the guard is the task timeout (limits.timeoutMs):
// the daemon terminates the worker thread, records HT_PLUGIN_TIMEOUT for that
// attack and the next attack gets a fresh thread. What this file bounds is
// the output: at most `maxMatchesPerRule` matches per rule and input.
//
// This file is the plugin as shipped: it must stand alone (no imports).

/** @typedef {import('@honeytrap/sdk').WorkerPlugin} WorkerPlugin */
/** @typedef {import('@honeytrap/sdk').Finding} Finding */

/**
 * @typedef {object} Rule
 * @property {string} name
 * @property {'string' | 'hex' | 'regex'} type
 * @property {string} pattern
 * @property {boolean} [caseInsensitive]
 * @property {(number | string)[]} [ports]
 */

/** The host accepts 1000 findings per result. */
const MAX_FINDINGS = 1000;
/** The matched text is given in meta.match up to this many characters. */
const MAX_MATCH_TEXT = 200;

/** @param {string} s */
const escapeRegex = (s) => s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/**
 * A rule's pattern as a RegExp over latin1 text.
 * @param {Rule} rule
 */
function compile(rule) {
  const flags = `g${rule.caseInsensitive ? 'i' : ''}`;
  if (rule.type === 'string') {
    // the pattern's UTF-8 bytes, as the latin1 text of the input would show them
    const bytes = Buffer.from(rule.pattern, 'utf8').toString('latin1');
    return new RegExp(escapeRegex(bytes), flags);
  }
  if (rule.type === 'hex') {
    // "4d 5a ?? 00": pairs of hex digits, ?? for any byte, white space ignored
    const pairs = rule.pattern.replace(/\s+/g, '').match(/../g) ?? [];
    const source = pairs.map((p) => (p === '??' ? '[\\s\\S]' : `\\x${p.toLowerCase()}`)).join('');
    return new RegExp(source, flags);
  }
  try {
    return new RegExp(rule.pattern, flags);
  } catch (err) {
    throw new Error(
      `rule ${JSON.stringify(rule.name)}: invalid regular expression: ${/** @type {Error} */ (err).message}`,
    );
  }
}

/**
 * Whether a rule applies to an attack on `port`.
 * @param {Rule} rule
 * @param {number} port
 */
function portMatches(rule, port) {
  if (!rule.ports || rule.ports.length === 0) return true;
  return rule.ports.some((p) => {
    if (typeof p === 'number') return p === port;
    const [a, b] = p.split('-').map(Number);
    return port >= a && port <= (b ?? a);
  });
}

/** The compiled rules of the last config seen (the config is the same for every task). */
let cache = { key: '', rules: /** @type {{ rule: Rule, re: RegExp }[]} */ ([]) };

/** @param {Rule[]} rules */
function compiled(rules) {
  const key = JSON.stringify(rules);
  if (cache.key !== key) cache = { key, rules: rules.map((rule) => ({ rule, re: compile(rule) })) };
  return cache.rules;
}

/** Matched bytes for meta.match: printable ASCII as is, other bytes as \xNN; hex rules in hex. */
function shown(text, type) {
  const s = text.length > MAX_MATCH_TEXT ? text.slice(0, MAX_MATCH_TEXT) : text;
  if (type === 'hex') return Buffer.from(s, 'latin1').toString('hex');
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** @type {WorkerPlugin} */
export default {
  analyze(input, ctx) {
    const config =
      /** @type {{ rules?: Rule[], maxMatchesPerRule?: number, maxBytes?: number }} */ (ctx.config);
    const rules = config.rules ?? [];
    if (rules.length === 0) return { findings: [] };
    const perRule = config.maxMatchesPerRule ?? 10;
    const maxBytes = config.maxBytes ?? 4 * 1024 * 1024;
    const artifact = input.kind === 'artifact';
    const bytes = Buffer.from(
      (artifact ? input.artifact?.data : input.attack.received.data) ?? '',
      'base64',
    );
    // latin1: one character per byte, so string offsets are byte offsets.
    const text = bytes.subarray(0, maxBytes).toString('latin1');
    const port = input.attack.local.port;
    /** @type {Finding[]} */
    const findings = [];
    for (const { rule, re } of compiled(rules)) {
      if (!portMatches(rule, port)) continue;
      re.lastIndex = 0;
      let n = 0;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        if (m[0].length === 0) {
          // an empty match (a* or ^): no finding, and step on so the loop ends
          re.lastIndex = m.index + 1;
          continue;
        }
        if (n === perRule) {
          ctx.log(`rule ${rule.name}: more than ${perRule} matches, the rest not reported`);
          break;
        }
        n++;
        findings.push({
          type: 'signature',
          value: rule.name,
          offset: m.index,
          meta: {
            rule: rule.name,
            ruleType: rule.type,
            length: m[0].length,
            match: shown(m[0], rule.type),
            input: artifact ? 'artifact' : 'received',
          },
        });
        if (findings.length === MAX_FINDINGS) return { findings };
      }
    }
    return { findings };
  },
};
