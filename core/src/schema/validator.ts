// ajv validators for the project's schemas, and one way to word their errors:
// "<JSON pointer>: <reason>", as an operator or plugin author reads them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { paths } from '../paths.js';

export function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, allowUnionTypes: true, verbose: true });
  // Our own annotation: the words to use when a value does not match `pattern`.
  ajv.addKeyword({ keyword: 'patternHint', schemaType: 'string' });
  return ajv;
}

/** A lazily compiled validator for schemas/<file> (defaults applied in place). */
export function schemaFileValidator(file: string): () => ValidateFunction {
  let fn: ValidateFunction | undefined;
  return () => {
    fn ??= newAjv().compile(JSON.parse(readFileSync(join(paths.schemas, file), 'utf8')) as object);
    return fn;
  };
}

function isPortPath(path: string): boolean {
  return path.endsWith('/port') || /\/ports\/\d+$/.test(path);
}

function where(path: string): string {
  return path === '' ? '/' : path;
}

export function formatAjvError(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'enum':
      return `${where(e.instancePath)}: must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'const':
      return `${where(e.instancePath)}: must be ${JSON.stringify(p.allowedValue)}`;
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      return `${e.instancePath}/${String(p.additionalProperty)}: unknown property (allowed: ${allowed.join(', ')})`;
    }
    case 'required':
      return `${e.instancePath}/${String(p.missingProperty)}: is required`;
    case 'type':
      return `${where(e.instancePath)}: must be ${String(p.type).split(',').join(' or ')}`;
    case 'minimum':
    case 'maximum':
      // Same words as a port given as text ("70000"), which the semantic check reports.
      if (isPortPath(e.instancePath))
        return `${e.instancePath}: ${String(e.data)} is not a port number (1-65535)`;
      return `${where(e.instancePath)}: must be ${e.keyword === 'minimum' ? '>=' : '<='} ${String(p.limit)} (got ${JSON.stringify(e.data)})`;
    case 'pattern': {
      if (isPortPath(e.instancePath))
        return `${e.instancePath}: must be a port (2323) or a range ("20000-20099")`;
      const hint = (e.parentSchema as { patternHint?: string } | undefined)?.patternHint;
      return `${where(e.instancePath)}: ${JSON.stringify(e.data)} ${hint ?? `must match ${String(p.pattern)}`}`;
    }
    case 'minProperties':
      return `${where(e.instancePath)}: must not be empty`;
    default:
      return `${where(e.instancePath)}: ${e.message ?? e.keyword}`;
  }
}

export function formatAjvErrors(errors: ErrorObject[] | null | undefined): string[] {
  return [...new Set((errors ?? []).map(formatAjvError))];
}
