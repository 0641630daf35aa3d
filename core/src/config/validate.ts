// Schema validation (ajv, defaults applied) and the checks a schema cannot
// express (ranges, overlaps, templates that exist). Every problem is reported
// as "<JSON pointer>: <reason>", all at once.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { MAX_SOCKET_PATH } from '../control/server.js';
import { controlSocketPath } from '../paths.js';
import { isIP } from 'node:net';
import type { HoneytrapConfig } from '../generated/config.js';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import { formatAjvError, schemaFileValidator } from '../schema/validator.js';
import { expandPorts, parsePortSpec, MAX_LISTEN_PORTS } from './ports.js';
import { TemplateLibrary } from '../templates.js';

export type { HoneytrapConfig, ResolvedConfig };
export { formatAjvError };

const schemaValidator = schemaFileValidator('config.schema.json');

/** Checks a parsed config document. Returns the config with defaults applied, or every problem. */
export function validateConfig(
  doc: unknown,
): { ok: true; config: ResolvedConfig } | { ok: false; errors: string[] } {
  const copy: unknown = structuredClone(doc);
  const validate = schemaValidator();
  if (!validate(copy)) {
    const errors = (validate.errors ?? []).map(formatAjvError);
    return { ok: false, errors: [...new Set(errors)] };
  }
  const config = copy as ResolvedConfig;
  const errors = semanticErrors(config);
  return errors.length ? { ok: false, errors } : { ok: true, config };
}

function accountExists(db: 'passwd' | 'group', name: string): boolean {
  try {
    execFileSync('getent', [db, name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function targetError(target: string, at: string): string[] {
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  return port >= 1 && port <= 65535 ? [] : [`${at}: port ${port} of "${target}" is not 1-65535`];
}

function proxyErrors(
  proxy: NonNullable<ResolvedConfig['defaults']['proxy']>,
  at: string,
): string[] {
  const errors = targetError(proxy.target, `${at}/target`);
  (proxy.routes ?? []).forEach((r, i) => {
    errors.push(...targetError(r.target, `${at}/routes/${i}/target`));
    const [net = '', bits = ''] = r.from.split('/');
    const family = isIP(net);
    const max = family === 4 ? 32 : 128;
    if (!family || Number(bits) > max)
      errors.push(
        `${at}/routes/${i}/from: "${r.from}" is not a network in CIDR form (e.g. 10.0.0.0/8)`,
      );
  });
  return errors;
}

function semanticErrors(config: ResolvedConfig): string[] {
  const errors: string[] = [];

  config.capture.addresses.forEach((a, i) => {
    if (!isIP(a)) errors.push(`/capture/addresses/${i}: "${a}" is not an IPv4 or IPv6 address`);
  });
  const addrs = config.capture.addresses;
  if (addrs.includes('::') && addrs.length > 1)
    errors.push(
      `/capture/addresses: "::" already covers IPv4 and IPv6 (dual-stack); listing it with ${addrs.filter((a) => a !== '::').join(', ')} binds every port twice`,
    );

  const { user, group } = config.privileges;
  if (user && !accountExists('passwd', user))
    errors.push(`/privileges/user: no user "${user}" on this system`);
  if (group && !accountExists('group', group))
    errors.push(`/privileges/group: no group "${group}" on this system`);
  if (group && !user)
    errors.push('/privileges/group: set privileges.user too (group alone drops nothing)');

  const socket = controlSocketPath(config);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
    errors.push(
      `${config.control.socket ? '/control/socket' : '/store/path'}: the control socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes (set control.socket to a shorter path)`,
    );

  if (config.defaults.mode === 'proxy' && !config.defaults.proxy)
    errors.push('/defaults/proxy: proxy mode needs a target (defaults.proxy.target)');
  if (config.defaults.proxy) errors.push(...proxyErrors(config.defaults.proxy, '/defaults/proxy'));

  config.templates.dirs.forEach((d, i) => {
    let isDir = false;
    try {
      isDir = statSync(d).isDirectory();
    } catch {
      /* reported below */
    }
    if (!isDir) errors.push(`/templates/dirs/${i}: folder "${d}" does not exist`);
  });
  const templates = new TemplateLibrary(config.templates.dirs, config.templates.builtin);

  const seen = new Map<string, number>();
  let total = 0;
  config.ports.forEach((entry, i) => {
    const at = `/ports/${i}`;
    const range = parsePortSpec(entry.port);
    if ('error' in range) {
      errors.push(`${at}/port: ${range.error}`);
      return;
    }
    if ((entry.mode ?? config.defaults.mode) === 'proxy' && !entry.proxy && !config.defaults.proxy)
      errors.push(
        `${at}/proxy: proxy mode needs a target: set proxy.target here or in defaults.proxy`,
      );
    if (entry.proxy) errors.push(...proxyErrors(entry.proxy, `${at}/proxy`));
    if (entry.template !== undefined && !templates.has(entry.template))
      errors.push(`${at}/template: no template "${entry.template}" in ${templates.describe()}`);
    total += range.to - range.from + 1;
    for (let p = range.from; p <= range.to; p++) {
      const key = `${p}/${entry.proto}`;
      const first = seen.get(key);
      if (first !== undefined) {
        errors.push(`${at}/port: ${key} is already configured by /ports/${first}`);
        return;
      }
      seen.set(key, i);
    }
  });
  if (config.capture.type === 'listen' && config.ports.length === 0)
    errors.push(
      '/ports: the listen capture traps only the ports listed here, and none is (add ports, or use capture.type nfqueue)',
    );
  if (config.capture.type === 'listen' && total > MAX_LISTEN_PORTS)
    errors.push(
      `/ports: ${total} ports exceed the listen capture's limit of ${MAX_LISTEN_PORTS} sockets (use the nfqueue capture to trap every port)`,
    );
  // Expansion must succeed for a valid config; keeps the two in step.
  if (errors.length === 0) expandPorts(config);
  return errors;
}
