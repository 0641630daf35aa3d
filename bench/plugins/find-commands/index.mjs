// Benchmark plugin for the worker engine (bench/plugins.mjs): finds the
// "wget …" / "curl …" command lines and the URLs in the decoded received bytes.

/** A wget or curl command, up to the end of its shell command. */
const COMMAND = /\b(?:wget|curl)[ \t][^\r\n;|&`]*/g;
const URL = /\b(?:https?|ftp|tftp):\/\/[^\s"'<>`;|&]+/g;
/** At most this many findings of each kind per attack. */
const MAX = 50;

function matches(text, re, type) {
  const out = [];
  for (const m of text.matchAll(re)) {
    if (out.length >= MAX) break;
    out.push({ type, value: m[0].trimEnd().slice(0, 1000), offset: m.index });
  }
  return out;
}

export default {
  analyze(input) {
    // latin1: one character per byte, so offsets are byte offsets.
    const text = Buffer.from(input.attack.received.data, 'base64').toString('latin1');
    return { findings: [...matches(text, COMMAND, 'command'), ...matches(text, URL, 'url')] };
  },
};
