// The honeytrap-plugin command: new, build, validate, test, pack.
import { Command, Option } from 'commander';
import { HarnessError } from '../harness/errors.js';
import { buildPlugin } from './build.js';
import { CliError, SDK_VERSION } from './common.js';
import { newPlugin } from './new.js';
import { packPlugin } from './pack.js';
import { testPlugin } from './test.js';
import { validatePlugin } from './validate.js';

export function buildProgram(): Command {
  const program = new Command('honeytrap-plugin')
    .description('write, test and package honeytrap-ts plugins')
    .version(SDK_VERSION, '-V, --version')
    .showHelpAfterError();

  program
    .command('new')
    .description('create a plugin folder NAME (manifest, source, README, tests, package.json)')
    .addArgument(program.createArgument('<engine>', 'worker or wasm').choices(['worker', 'wasm']))
    .argument('<name>', 'plugin name: lower case letters, digits and dashes')
    .option('--dir <path>', 'create it in this folder (default: the current folder)')
    .option('--typescript', 'worker only: write it in TypeScript (src/index.ts, bundled by build)')
    .addOption(new Option('--no-build', 'do not build it after creating it'))
    .action(
      async (
        engine: string,
        name: string,
        opts: { dir?: string; typescript?: boolean; build: boolean },
      ) => {
        await newPlugin(engine, name, opts);
      },
    );

  program
    .command('build [dir]')
    .description(
      'wasm: compile assembly/index.ts with asc; worker: bundle src/index.(ts|js) into the entry; then check it loads',
    )
    .action(async (dir?: string) => {
      await buildPlugin(dir ?? '.');
    });

  program
    .command('validate [dir]')
    .description("check the plugin folder with the daemon's manifest checks (exit 2 when invalid)")
    .action((dir?: string) => validatePlugin(dir ?? '.'));

  program
    .command('test [dir]')
    .description(
      "run test/fixtures/*.json and test/**/*.test.mjs through the harness, in the daemon's engine",
    )
    .action(async (dir?: string) => {
      const { failed } = await testPlugin(dir ?? '.');
      if (failed) process.exitCode = 1;
    });

  program
    .command('pack [dir]')
    .description('write NAME-VERSION.tgz (plugin.json, the entry, README.md) for a plugins folder')
    .option('-o, --out-dir <dir>', 'write the archive here (default: the current folder)')
    .action(async (dir: string | undefined, opts: { outDir?: string }) => {
      await packPlugin(dir ?? '.', opts);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CliError || err instanceof HarnessError) {
      const details = err instanceof CliError ? err.details : [];
      process.stderr.write(
        `honeytrap-plugin: ${[err.message, ...details.map((d) => `  ${d}`)].join('\n')}\n`,
      );
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    } else {
      process.stderr.write(
        `honeytrap-plugin: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    }
  }
}
