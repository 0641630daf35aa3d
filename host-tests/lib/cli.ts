// Runs the honeytrap command (and other programs) and parses --json output.
import { spawn } from 'node:child_process';
import type { Attack } from '../../core/src/generated/attack.js';
import { BIN, REPO } from './daemon.js';

export type { Attack };

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  input?: Buffer | string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a program to completion; kills it (and fails) after `timeoutMs`. */
export function runProgram(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? REPO,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${cmd} ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${Buffer.concat(err).toString()}`,
        ),
      );
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} cannot be run: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        signal,
        stdout: stdoutBytes.toString('utf8'),
        stdoutBytes,
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: performance.now() - started,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** `honeytrap ARGS` with this checkout's build. */
export function honeytrap(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProgram(process.execPath, [BIN, ...args], opts);
}

function expectOk(r: RunResult, what: string): void {
  if (r.code !== 0)
    throw new Error(`${what} exited ${r.code}${r.signal ? ` (${r.signal})` : ''}: ${r.stderr}`);
}

/** `honeytrap attacks list --json --limit 5000 --data-dir DIR ...extra` */
export async function listAttacks(dataDir: string, extra: string[] = []): Promise<Attack[]> {
  const r = await honeytrap([
    'attacks',
    'list',
    '--json',
    '--limit',
    '5000',
    '--data-dir',
    dataDir,
    ...extra,
  ]);
  expectOk(r, `attacks list ${extra.join(' ')}`);
  return JSON.parse(r.stdout) as Attack[];
}

/** `honeytrap attacks show ID --json --data-dir DIR` */
export async function showAttack(dataDir: string, id: string): Promise<Attack> {
  const r = await honeytrap(['attacks', 'show', id, '--json', '--data-dir', dataDir]);
  expectOk(r, `attacks show ${id}`);
  return JSON.parse(r.stdout) as Attack;
}

export const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/** The lines of stderr that look like a JavaScript stack trace. */
export function stackLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\s+at /.test(l));
}
