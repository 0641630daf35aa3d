// The honeytrap command.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { HoneytrapError } from '../errors.js';
import { paths } from '../paths.js';
import { listCommand, showCommand } from './commands/attacks.js';
import { configCheckCommand, configDefaultCommand } from './commands/config.js';
import { iptablesCommand } from './commands/iptables.js';
import { runCommand } from './commands/run.js';
import { statusCommand } from './commands/status.js';
import {
  pluginsListCommand,
  pluginsToggleCommand,
  pluginsValidateCommand,
} from './commands/plugins.js';

const { version } = JSON.parse(readFileSync(paths.packageJson, 'utf8')) as { version: string };

const storeOptions = (cmd: Command) =>
  cmd
    .addOption(
      new Option('-c, --config <file>', 'config file naming the store (default: embedded default)'),
    )
    .addOption(new Option('-d, --data-dir <dir>', 'store folder (overrides the config)'));

export function buildProgram(): Command {
  const program = new Command('honeytrap')
    .description('honeytrap-ts: a low-interaction honeypot for any TCP or UDP port')
    .version(version, '-V, --version')
    .showHelpAfterError();

  program
    .command('run')
    .description('run the daemon (embedded default config unless --config)')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(runCommand);

  storeOptions(
    program
      .command('status')
      .description("a running daemon's counters (sessions, stores, queue, port table)")
      .option('--json', 'print JSON'),
  ).action(statusCommand);

  const attacks = program.command('attacks').description('read recorded attack strings');
  storeOptions(
    attacks
      .command('list')
      .description('list attacks, newest first')
      .option('--since <when>', 'only since a duration ago (15m, 2h, 7d) or a date')
      .option('--port <port>', 'only this local port, optionally with /tcp or /udp')
      .option('--source <address>', 'only from this remote address')
      .option('-n, --limit <n>', 'at most this many', '50')
      .option('--json', 'print JSON (full attack strings, data base64)'),
  ).action(listCommand);
  storeOptions(
    attacks
      .command('show <id>')
      .description('show one attack: metadata and a hexdump of both directions')
      .option('--json', 'print the attack string as JSON'),
  ).action(showCommand);

  program
    .command('iptables')
    .description(
      'print the iptables/ip6tables rules of the nfqueue capture (or install/remove them)',
    )
    .option('-c, --config <file>', 'config file (queue number, excluded ports, backend)')
    .option('--apply', 'install the rules (replacing ours if present)')
    .option('--remove', 'remove the rules')
    .action(iptablesCommand);

  const plugins = program.command('plugins').description('plugins of a running daemon');
  storeOptions(
    plugins
      .command('list')
      .description('plugins, state, version, engine, capabilities, counters, last error')
      .option('--json', 'print JSON'),
  ).action(pluginsListCommand);
  plugins
    .command('validate <dir>')
    .description('check a plugin folder (manifest, entry file) without a daemon')
    .action(pluginsValidateCommand);
  storeOptions(
    plugins.command('enable <name>').description('enable a plugin (kept across restarts)'),
  ).action((name: string, opts: { config?: string; dataDir?: string }) =>
    pluginsToggleCommand('enable', name, opts),
  );
  storeOptions(
    plugins.command('disable <name>').description('disable a plugin (kept across restarts)'),
  ).action((name: string, opts: { config?: string; dataDir?: string }) =>
    pluginsToggleCommand('disable', name, opts),
  );

  const config = program.command('config').description('check and print configs');
  config.command('check <file>').description('validate a config file').action(configCheckCommand);
  config
    .command('default')
    .description('print the embedded default config')
    .action(configDefaultCommand);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof HoneytrapError) {
      process.stderr.write(`honeytrap: ${err.describe()}\n`);
      process.exitCode =
        err.code.startsWith('HT_CONFIG') || err.code === 'HT_PLUGIN_MANIFEST' ? 2 : 1;
    } else {
      process.stderr.write(`honeytrap: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
