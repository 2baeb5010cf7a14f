#!/usr/bin/env node
// burn.mjs: keeps a fraction of one core busy, to stand in for the CPU another program on the
// box would take (see ceiling.sh). Plain Node, no dependencies.
//
//   node bench/burn.mjs --duty 0.63 --seconds 10
//
// Every 10 ms period it spins for duty × 10 ms, then sleeps the rest. Prints nothing; exits
// after --seconds (or when killed).
const args = { duty: 0.5, seconds: 10, periodMs: 10 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i], v = argv[i + 1];
  if (a === '--duty') { args.duty = Number(v); i++; }
  else if (a === '--seconds') { args.seconds = Number(v); i++; }
  else if (a === '--period-ms') { args.periodMs = Number(v); i++; }
  else { process.stderr.write(`burn: unknown option ${a}\n`); process.exit(2); }
}
if (!(args.duty > 0 && args.duty <= 1)) { process.stderr.write('burn: --duty must be in (0, 1]\n'); process.exit(2); }
const end = performance.now() + args.seconds * 1000;
let sink = 0;
function period() {
  const start = performance.now();
  if (start >= end) { process.exit(sink === 42 ? 1 : 0); }
  const busyUntil = start + args.duty * args.periodMs;
  while (performance.now() < busyUntil) { sink = (sink * 31 + 7) % 1000003; }
  const next = start + args.periodMs - performance.now();
  setTimeout(period, Math.max(0, next));
}
period();
