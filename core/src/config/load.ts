// Reads a config file (YAML; JSON is valid YAML) or the embedded default and validates it.
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { HoneytrapError } from '../errors.js';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import { defaultConfigText } from './default.js';
import { validateConfig } from './validate.js';

export interface LoadedConfig {
  config: ResolvedConfig;
  /** The file it came from, or "(embedded default)". */
  source: string;
}

export function parseConfigText(text: string, source: string): ResolvedConfig {
  // linePos is only filled in by prettyErrors (which rewrites the message), so
  // positions come from our own line counter.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length) {
    const details = doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      const at = pos ? `${source}:${pos.line}:${pos.col}` : source;
      return `${at}: ${e.message.split('\n')[0]}`;
    });
    throw new HoneytrapError('HT_CONFIG_PARSE', `config ${source} is not valid YAML/JSON`, {
      file: source,
      details,
    });
  }
  const value: unknown = doc.toJS() ?? {};
  const result = validateConfig(value);
  if (!result.ok)
    throw new HoneytrapError(
      'HT_CONFIG_INVALID',
      `config ${source} has ${result.errors.length} error${result.errors.length > 1 ? 's' : ''}`,
      { file: source, details: result.errors },
    );
  return result.config;
}

export async function loadConfig(file?: string): Promise<LoadedConfig> {
  if (file === undefined)
    return {
      config: parseConfigText(defaultConfigText(), '(embedded default)'),
      source: '(embedded default)',
    };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const reason =
      (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : String(cause);
    throw new HoneytrapError('HT_CONFIG_READ', `config ${file} cannot be read: ${reason}`, {
      file,
      cause,
    });
  }
  return { config: parseConfigText(text, file), source: file };
}
