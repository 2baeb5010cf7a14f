#!/usr/bin/env node
// bench/fleet-bound.mjs: what ANY batch client can reach beside interactive traffic on a FIFO slot
// server, by simulation (no openbatch involved). It answers one question about issue 19's first
// figure: can a client that sends batch lines keep interactive p99 within P99_GOAL (1.15) of its
// p99 alone while taking SPARE_GOAL (0.85) of the spare capacity?
//
// The server is bench/slot-server.mjs's model: SLOTS slots, each request holds one for SERVICE_MS
// (uniform ± JITTER), one FIFO queue. Interactive requests arrive Poisson at LOAD × capacity. The
// batch client follows one of three policies, each swept over its one knob:
//   fixed L       L batch lines always out: each answer sends the next (openbatch with a fixed limit
//                 of L, or any adaptive limit that has settled at L);
//   oracle h      knows the server's busy slots and queue at every instant, at no cost, and sends
//                 a line whenever that leaves h slots free (no real client can do better than the
//                 best h: it cannot take a line back once sent, and neither can the oracle);
//   reads R, h    reads the server's interactive count every R ms (a metrics scrape, exact but
//                 R ms old) and keeps SLOTS − h − that many lines out.
// For each it prints interactive p99 (send → answer, as bench/fleet.sh's client measures it) with the
// batch / alone, and the batch's rate / spare capacity, averaged over SEEDS seeds of RUN_S seconds,
// then the best setting of each policy that meets both goals, or "none".
//
//   node bench/fleet-bound.mjs
//   JITTER=0.3 node bench/fleet-bound.mjs          # service times that vary ±30%
// Knobs: SLOTS (32), SERVICE_MS (200), JITTER (0), LOAD (0.5), RUN_S (300), SEEDS (5),
//        P99_GOAL (1.15), SPARE_GOAL (0.85). About 20 s.

const num = (k, d) => (process.env[k] === undefined ? d : Number(process.env[k]));
const SLOTS = num('SLOTS', 32);
const SERVICE = num('SERVICE_MS', 200) / 1000;
const JITTER = num('JITTER', 0);
const LOAD = num('LOAD', 0.5);
const RUN_S = num('RUN_S', 300);
const SEEDS = num('SEEDS', 5);
const P99_GOAL = num('P99_GOAL', 1.15);
const SPARE_GOAL = num('SPARE_GOAL', 0.85);
const WARMUP_S = 10;
const CAPACITY = SLOTS / SERVICE;
const RATE = LOAD * CAPACITY;

function rng(seed) { // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Heap { // min-heap of [time, seq, fn]
  constructor() { this.a = []; this.seq = 0; }
  push(t, fn) { const a = this.a; a.push([t, this.seq++, fn]); let i = a.length - 1; while (i > 0) { const p = (i - 1) >> 1; if (less(a[i], a[p])) { [a[i], a[p]] = [a[p], a[i]]; i = p; } else break; } }
  pop() { const a = this.a; const top = a[0]; const last = a.pop(); if (a.length) { a[0] = last; let i = 0; for (;;) { const l = 2 * i + 1, r = l + 1; let m = i; if (l < a.length && less(a[l], a[m])) m = l; if (r < a.length && less(a[r], a[m])) m = r; if (m === i) break; [a[i], a[m]] = [a[m], a[i]]; i = m; } } return top; }
  get size() { return this.a.length; }
}
const less = (x, y) => x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);

// One run: policy(state) says how many batch lines the client wants out now; it is asked after
// every event. Returns { p99, batchRate } (p99 in seconds of interactive latency).
function simulate(seed, policy) {
  const rand = rng(seed);
  const service = rng(seed ^ 0x9e3779b9);
  const ev = new Heap();
  const queue = []; // FIFO of { cls, at }
  const st = { now: 0, busy: 0, waiting: 0, iOut: 0, bOut: 0, sampledI: 0 };
  const lat = [];
  let batchDone = 0;
  const svc = () => SERVICE * (1 + JITTER * (2 * service() - 1));
  const start = (cls, at) => { st.busy++; ev.push(st.now + svc(), () => finish(cls, at)); };
  const arrive = (cls) => { if (st.busy < SLOTS) start(cls, st.now); else queue.push({ cls, at: st.now }); };
  const topUp = () => { st.waiting = queue.length; const want = policy.want(st); while (st.bOut < want) { st.bOut++; arrive('b'); } };
  const finish = (cls, at) => {
    st.busy--;
    if (cls === 'i') { st.iOut--; if (st.now > WARMUP_S) lat.push(st.now - at); } else { st.bOut--; if (st.now > WARMUP_S) batchDone++; }
    if (queue.length) { const q = queue.shift(); start(q.cls, q.at); }
  };
  for (let t = -Math.log(1 - rand()) / RATE; t < RUN_S; t += -Math.log(1 - rand()) / RATE) {
    ev.push(t, () => { st.iOut++; arrive('i'); });
  }
  if (policy.readEveryS) for (let t = 0; t < RUN_S; t += policy.readEveryS) ev.push(t, () => { st.sampledI = st.iOut; });
  while (ev.size) {
    const [t, , fn] = ev.pop();
    if (t > RUN_S) break;
    st.now = t;
    fn();
    topUp();
  }
  lat.sort((a, b) => a - b);
  return { p99: lat[Math.floor(lat.length * 0.99)], batchRate: batchDone / (RUN_S - WARMUP_S) };
}

function averaged(policy) {
  let p99 = 0, rate = 0;
  for (let s = 1; s <= SEEDS; s++) {
    const r = simulate(s, policy);
    p99 += r.p99 / SEEDS;
    rate += r.batchRate / SEEDS;
  }
  return { p99, rate };
}

const alone = averaged({ want: () => 0 });
const spare = CAPACITY - RATE;
const rows = [];
const row = (family, knob, policy) => {
  const r = averaged(policy);
  const p99Ratio = r.p99 / alone.p99, spareRatio = r.rate / spare;
  rows.push({ family, knob, p99Ratio, spareRatio, ok: p99Ratio <= P99_GOAL && spareRatio >= SPARE_GOAL });
  console.log(`  ${family.padEnd(10)} ${knob.padEnd(14)} interactive p99 ${(r.p99 * 1000).toFixed(1).padStart(6)} ms = ${p99Ratio.toFixed(3)} × alone   batch ${r.rate.toFixed(1).padStart(6)}/s = ${spareRatio.toFixed(3)} of spare${p99Ratio <= P99_GOAL && spareRatio >= SPARE_GOAL ? '   both goals' : ''}`);
};

console.log(`fleet bound: ${SLOTS} slots × ${SERVICE * 1000} ms (jitter ±${JITTER * 100}%), capacity ${CAPACITY}/s, one FIFO queue; interactive Poisson ${RATE}/s; ${SEEDS} seeds × ${RUN_S} s`);
console.log(`goals: interactive p99 ≤ ${P99_GOAL} × alone (${(alone.p99 * 1000).toFixed(1)} ms), batch ≥ ${SPARE_GOAL} of spare (${spare}/s)`);
for (let L = 8; L <= 20; L++) row('fixed', `L=${L}`, { want: () => L });
for (let h = 0; h <= 6; h++) row('oracle', `h=${h}`, { want: (s) => s.bOut + Math.max(0, SLOTS - h - s.busy - s.waiting) });
for (const R of [20, 100, 500]) for (let h = 0; h <= 6; h += 2) {
  row('reads', `R=${R}ms h=${h}`, { readEveryS: R / 1000, want: (s) => Math.max(0, SLOTS - h - s.sampledI) });
}
console.log('best of each policy that meets both goals:');
for (const family of ['fixed', 'oracle', 'reads']) {
  const ok = rows.filter((r) => r.family === family && r.ok).sort((a, b) => a.p99Ratio - b.p99Ratio);
  const closest = rows.filter((r) => r.family === family && r.spareRatio >= SPARE_GOAL).sort((a, b) => a.p99Ratio - b.p99Ratio)[0];
  console.log(`  ${family.padEnd(7)} ${ok.length ? `${ok[0].knob}: p99 ${ok[0].p99Ratio.toFixed(3)}, spare ${ok[0].spareRatio.toFixed(3)}` : `none (lowest p99 with ≥ ${SPARE_GOAL} of spare: ${closest ? `${closest.knob}, ${closest.p99Ratio.toFixed(3)} × alone` : 'none'})`}`);
}
