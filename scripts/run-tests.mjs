#!/usr/bin/env node
// Runs every vitest project and fails when any test was skipped or left todo:
// in this project a test that cannot run is a failure, never a silent skip.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const out = join(tmpdir(), `honeytrap-vitest-${process.pid}.json`);
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${out}`,
  ...process.argv.slice(2),
];
const run = spawnSync('npx', args, { stdio: 'inherit' });
let report;
try {
  report = JSON.parse(readFileSync(out, 'utf8'));
} catch {
  console.error('run-tests: vitest wrote no report');
  process.exit(run.status || 1);
} finally {
  rmSync(out, { force: true });
}
const skipped = [];
for (const file of report.testResults ?? [])
  for (const t of file.assertionResults ?? [])
    if (t.status !== 'passed' && t.status !== 'failed')
      skipped.push(`${file.name}: ${t.fullName} (${t.status})`);
if (skipped.length) {
  console.error(`run-tests: ${skipped.length} test(s) did not run; every test must run in CI:`);
  for (const s of skipped) console.error(`  ${s}`);
  process.exit(1);
}
console.log(
  `run-tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, 0 skipped`,
);
process.exit(run.status ?? 1);
