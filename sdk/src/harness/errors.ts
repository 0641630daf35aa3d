// The error the harness and the honeytrap-plugin command throw for problems
// with the plugin under test (as opposed to the plugin's own failures, which
// arrive as core's PluginError with an HT_PLUGIN_* code).
export class HarnessError extends Error {
  /** One line per problem (manifest fields, result fields). */
  readonly details: string[];

  constructor(message: string, details: string[] = []) {
    super(details.length ? `${message}\n  ${details.join('\n  ')}` : message);
    this.name = 'HarnessError';
    this.details = details;
  }
}
