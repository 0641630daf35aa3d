// Raises this process's open-file limit as far as allowed (every listener and
// session is a file descriptor) and reports it. Node has no setrlimit, so this
// uses util-linux prlimit on our own pid.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface FdLimit {
  soft: number;
  hard: number;
  raised: boolean;
}

export function readFdLimit(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line?.match(/\d+|unlimited/g) ?? []).map((v) =>
    v === 'unlimited' ? Infinity : Number(v),
  );
  return { soft: soft ?? 1024, hard: hard ?? 1024 };
}

export function raiseFdLimit(want = 1_048_576): FdLimit {
  const before = readFdLimit();
  let target = Math.min(want, before.hard);
  if (process.getuid?.() === 0) {
    // Root may raise the hard limit up to the kernel's nr_open.
    const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    target = Math.min(want, nrOpen);
  }
  if (target <= before.soft) return { ...before, raised: false };
  try {
    execFileSync(
      'prlimit',
      ['--pid', String(process.pid), `--nofile=${target}:${Math.max(target, before.hard)}`],
      {
        stdio: 'ignore',
      },
    );
  } catch {
    return { ...before, raised: false };
  }
  const after = readFdLimit();
  return { ...after, raised: after.soft > before.soft };
}
