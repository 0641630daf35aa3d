// Errors are values: a stable code, what they concern (port, plugin, path) and a cause.

export type ErrorCode =
  | 'HT_CONFIG_READ'
  | 'HT_CONFIG_PARSE'
  | 'HT_CONFIG_INVALID'
  | 'HT_PORT_BIND'
  | 'HT_NO_PORTS'
  | 'HT_STORE_OPEN'
  | 'HT_STORE_LOCKED'
  | 'HT_STORE_WRITE'
  | 'HT_NOT_FOUND'
  | 'HT_CONTROL'
  | 'HT_UNSUPPORTED'
  | 'HT_PLUGIN_MANIFEST'
  | 'HT_PLUGIN_LOAD'
  | 'HT_PLUGIN_TIMEOUT'
  | 'HT_PLUGIN_MEMORY'
  | 'HT_PLUGIN_EXIT'
  | 'HT_PLUGIN_THREW'
  | 'HT_PLUGIN_RESULT'
  | 'HT_PLUGIN_DENIED'
  /** A brokered request failed (refused, timed out, protocol error). */
  | 'HT_PLUGIN_NETWORK'
  /** A host service a plugin needs (its database, its files folder) is not available now; retried for at-least-once reports. */
  | 'HT_PLUGIN_UNAVAILABLE';

export interface ErrorContext {
  /** "2323/tcp" when the error concerns a port. */
  port?: string;
  /** Plugin name when the error concerns a plugin. */
  plugin?: string;
  /** File the error concerns. */
  file?: string;
  /** One line per problem, when there are several (config validation). */
  details?: string[];
  cause?: unknown;
}

export class HoneytrapError extends Error {
  readonly code: ErrorCode;
  readonly port: string | undefined;
  readonly plugin: string | undefined;
  readonly file: string | undefined;
  readonly details: string[];

  constructor(code: ErrorCode, message: string, ctx: ErrorContext = {}) {
    super(message, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = 'HoneytrapError';
    this.code = code;
    this.port = ctx.port;
    this.plugin = ctx.plugin;
    this.file = ctx.file;
    this.details = ctx.details ?? [];
  }

  /** The text an operator sees: the message, then one indented line per detail. */
  describe(): string {
    return [this.message, ...this.details.map((d) => `  ${d}`)].join('\n');
  }
}
