#!/usr/bin/env node
// Renders the config reference of docs/operations.md from schemas/config.schema.json:
// one Markdown table row per key (`defaults.readLimit`, `ports[].port`), with its
// type, default, allowed values and description, written between the markers
// <!-- config-reference:start --> and <!-- config-reference:end -->.
// `--check` exits 1 when the doc is stale instead of writing it.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const schemaPath = join(root, 'schemas', 'config.schema.json');
export const docPath = join(root, 'docs', 'operations.md');
export const START = '<!-- config-reference:start -->';
export const END = '<!-- config-reference:end -->';

/** Follows a local "$ref" ("#/definitions/mode"); the referring node's own keys win. */
function resolve(schema, node) {
  if (!node || typeof node !== 'object' || typeof node.$ref !== 'string') return node ?? {};
  if (!node.$ref.startsWith('#/')) throw new Error(`unsupported $ref ${node.$ref}`);
  let target = schema;
  for (const part of node.$ref.slice(2).split('/')) {
    target = target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (target === undefined) throw new Error(`$ref ${node.$ref} does not resolve`);
  }
  const own = { ...node };
  delete own.$ref;
  return { ...resolve(schema, target), ...own };
}

const code = (v) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

/** Text for a table cell: one line, pipes escaped, no stray HTML. */
function cell(text) {
  return String(text)
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** A code span for a cell (pipes escaped, as GFM tables need even inside code). */
function codeCell(v) {
  return code(v).replace(/\|/g, '\\|');
}

function typeOf(schema, node) {
  const n = resolve(schema, node);
  if (n.const !== undefined) return typeof n.const === 'number' ? 'number' : typeof n.const;
  const alternatives = n.oneOf ?? n.anyOf;
  if (alternatives) return alternatives.map((a) => typeOf(schema, a)).join(' or ');
  const types = Array.isArray(n.type) ? n.type : n.type ? [n.type] : [];
  return (
    types
      .map((t) => (t === 'array' && n.items ? `array of ${typeOf(schema, n.items)}` : t))
      .join(' or ') || 'any'
  );
}

/** "1 to 65535", "`a`, `b`", "matches `^x$`"... the constraints an operator must meet. */
function allowed(schema, node) {
  const n = resolve(schema, node);
  const out = [];
  if (n.const !== undefined) out.push(`only ${codeCell(n.const)}`);
  if (n.enum) out.push(n.enum.map(codeCell).join(', '));
  const lo = n.minimum ?? n.exclusiveMinimum;
  const hi = n.maximum ?? n.exclusiveMaximum;
  if (lo !== undefined && hi !== undefined) out.push(`${lo} to ${hi}`);
  else if (lo !== undefined) out.push(`at least ${lo}`);
  else if (hi !== undefined) out.push(`at most ${hi}`);
  if (n.minLength !== undefined && n.maxLength !== undefined)
    out.push(`${n.minLength} to ${n.maxLength} characters`);
  else if (n.maxLength !== undefined) out.push(`at most ${n.maxLength} characters`);
  else if (n.minLength) out.push(`not empty`);
  if (n.pattern) out.push(`text matching ${codeCell(n.pattern)}`);
  if (n.minItems) out.push(`at least ${n.minItems} item${n.minItems > 1 ? 's' : ''}`);
  if (n.maxItems !== undefined) out.push(`at most ${n.maxItems} items`);
  if (n.uniqueItems) out.push('no duplicates');
  if (n.type === 'array' && n.items) {
    const item = resolve(schema, n.items);
    if (!item.properties) {
      const each = allowed(schema, item);
      if (each) out.push(`each: ${each}`);
    }
  }
  return out.join('; ');
}

function defaultOf(n, requiredIn) {
  if (n.default === undefined)
    return requiredIn === undefined
      ? ''
      : requiredIn
        ? `**required** in ${codeCell(requiredIn)}`
        : '**required**';
  // An object's default ({}) only says it may be left out; its keys carry the values.
  if (n.properties && typeof n.default === 'object' && Object.keys(n.default).length === 0)
    return '';
  return codeCell(n.default);
}

/** The rows for the keys of an object schema `n` whose own key is `prefix`. */
function children(schema, n, prefix, out) {
  const req = new Set(n.required ?? []);
  for (const [name, child] of Object.entries(n.properties ?? {}))
    rows(
      schema,
      child,
      prefix ? `${prefix}.${name}` : name,
      req.has(name) ? prefix : undefined,
      out,
    );
  if (n.additionalProperties && typeof n.additionalProperties === 'object')
    rows(schema, n.additionalProperties, `${prefix}.<name>`, undefined, out);
}

/**
 * Every key under `node`, depth first in schema order. `requiredIn` is the key of
 * the object that must have this one ('' at the top level), undefined when optional.
 */
function rows(schema, node, prefix, requiredIn, out) {
  const n = resolve(schema, node);
  if (prefix)
    out.push({
      key: prefix,
      type: typeOf(schema, n),
      def: defaultOf(n, requiredIn),
      allowed: allowed(schema, n),
      description: n.description ?? '',
    });
  children(schema, n, prefix, out);
  if (n.type === 'array' && n.items) children(schema, resolve(schema, n.items), `${prefix}[]`, out);
  return out;
}

/** The Markdown table for the schema (read from schemas/ unless given). */
export function renderConfigReference(schema = JSON.parse(readFileSync(schemaPath, 'utf8'))) {
  const lines = [
    '| key | type | default | allowed | description |',
    '|---|---|---|---|---|',
    ...rows(schema, schema, '', undefined, []).map(
      (r) =>
        `| ${codeCell(r.key)} | ${cell(r.type)} | ${r.def} | ${r.allowed} | ${cell(r.description)} |`,
    ),
  ];
  return lines.join('\n') + '\n';
}

/** The text between the markers, or undefined when a marker is missing. */
export function extractReference(doc) {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return undefined;
  return doc.slice(a + START.length, b).replace(/^\n/, '');
}

/** The doc with the text between the markers replaced by `table`. */
export function replaceReference(doc, table) {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`markers ${START} ... ${END} not found`);
  return `${doc.slice(0, a + START.length)}\n${table}${doc.slice(b)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const rel = relative(process.cwd(), docPath) || docPath;
  const doc = readFileSync(docPath, 'utf8');
  if (extractReference(doc) === undefined) {
    console.error(`${rel}: markers ${START} ... ${END} not found`);
    process.exit(2);
  }
  const next = replaceReference(doc, renderConfigReference());
  if (next === doc) {
    if (!check) console.log(`${rel}: config reference is up to date`);
  } else if (check) {
    console.error(`${rel}: config reference is stale (run node scripts/gen-config-doc.mjs)`);
    process.exit(1);
  } else {
    writeFileSync(docPath, next);
    console.log(`${rel}: config reference written`);
  }
}
