#!/usr/bin/env node
// A paced client for bench/plugins.mjs: opens COUNT connections at RATE per
// second to HOST on ports LO-HI (round-robin), sends PAYLOAD (hex) on each
// and half-closes, reads until the server closes. attackload runs a fixed
// concurrency as fast as it can; this one holds a rate, so that the plugin
// pipeline's latency can be measured below its capacity. Ends with one
// `RESULT key=value ...` line, as attackload does.
//
// Usage: node bench/paced-client.mjs HOST LO-HI RATE COUNT PAYLOAD_HEX
import { connect } from 'node:net';

const [host, ports, rateArg, countArg, hex] = process.argv.slice(2);
const [lo, hi] = (ports ?? '').split('-').map(Number);
const rate = Number(rateArg);
const count = Number(countArg);
if (!host || !lo || !hi || !(rate > 0) || !(count > 0) || hex === undefined) {
  process.stderr.write('usage: paced-client.mjs HOST LO-HI RATE COUNT PAYLOAD_HEX\n');
  process.exit(2);
}
const payload = Buffer.from(hex, 'hex');
const TIMEOUT_MS = 10_000;

let started = 0;
let completed = 0;
let failed = 0;
let maxInFlight = 0;
const t0 = performance.now();

function finish() {
  const elapsed = (performance.now() - t0) / 1000;
  process.stdout.write(
    `RESULT mode=paced rate=${rate} elapsed=${elapsed.toFixed(3)} attempted=${started} ` +
      `completed=${completed} failed=${failed} conn_per_s=${(completed / elapsed).toFixed(1)} ` +
      `max_inflight=${maxInFlight}\n`,
  );
}

function open(i) {
  const socket = connect({ host, port: lo + (i % (hi - lo + 1)) });
  let ok = false;
  socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error('timeout')));
  socket.on('connect', () => socket.end(payload));
  socket.on('end', () => (ok = true));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    if (ok) completed++;
    else failed++;
    if (completed + failed === count) finish();
  });
  socket.resume();
}

const timer = setInterval(() => {
  const due = Math.min(count, Math.floor(((performance.now() - t0) / 1000) * rate));
  while (started < due) open(started++);
  maxInFlight = Math.max(maxInFlight, started - completed - failed);
  if (started >= count) clearInterval(timer);
}, 2);
