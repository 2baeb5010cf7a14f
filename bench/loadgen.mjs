#!/usr/bin/env node
// loadgen.mjs: a small closed-loop HTTP load generator (plain Node, no dependencies), used to
// check that bench/fake-upstream.mjs is never the bottleneck of a benchmark.
//
//   node bench/loadgen.mjs --url http://127.0.0.1:PORT/v1/chat/completions --concurrency 200 --seconds 5
//
// Keeps --concurrency requests in flight over keep-alive connections for --seconds, then prints
// one JSON object: requests, rate per second, latency percentiles (ms), counts by status and
// the client's own CPU time per request (µs).
import http from 'node:http';

const args = { url: null, concurrency: 200, seconds: 5, path: null, body: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i], v = argv[i + 1];
  if (a === '--url') { args.url = v; i++; }
  else if (a === '--concurrency') { args.concurrency = Number(v); i++; }
  else if (a === '--seconds') { args.seconds = Number(v); i++; }
  else if (a === '--body') { args.body = v; i++; }
  else { process.stderr.write(`loadgen: unknown option ${a}\n`); process.exit(2); }
}
if (!args.url) { process.stderr.write('loadgen: --url is required\n'); process.exit(2); }
const u = new URL(args.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: args.concurrency, maxFreeSockets: args.concurrency });

let n = 0;
const bodyFor = args.body !== null
  ? () => args.body
  : () => JSON.stringify({ model: 'bench-model', messages: [{ role: 'user', content: `hello ${n}` }], max_tokens: 16 });

const latencies = [];
const byStatus = {};
let errors = 0, inFlight = 0, stopping = false;
const cpu0 = process.cpuUsage();
const start = process.hrtime.bigint();
const deadline = start + BigInt(Math.round(args.seconds * 1e9));

function one() {
  if (stopping || process.hrtime.bigint() >= deadline) { stopping = true; if (inFlight === 0) report(); return; }
  n++;
  const body = bodyFor();
  const t0 = process.hrtime.bigint();
  inFlight++;
  const req = http.request({
    agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: 'Bearer bench' },
  }, (res) => {
    res.on('data', () => {});
    res.on('end', () => {
      inFlight--;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      byStatus[res.statusCode] = (byStatus[res.statusCode] || 0) + 1;
      one();
    });
  });
  req.on('error', (e) => { inFlight--; errors++; if (errors < 5) process.stderr.write(`loadgen: ${e.message}\n`); setTimeout(one, 10); });
  req.end(body);
}

let reported = false;
function report() {
  if (reported) return;
  reported = true;
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0); // this client's own CPU time (µs), user and system
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies.length ? +latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1) : null;
  process.stdout.write(JSON.stringify({
    url: args.url, concurrency: args.concurrency, seconds: +secs.toFixed(2),
    requests: latencies.length, errors, rate_per_s: Math.round(latencies.length / secs),
    latency_ms: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: latencies.length ? +latencies[latencies.length - 1].toFixed(1) : null },
    by_status: byStatus,
    cpu_us_per_request: latencies.length ? +((cpu.user + cpu.system) / latencies.length).toFixed(1) : null,
  }) + '\n');
  agent.destroy();
}

for (let i = 0; i < args.concurrency; i++) one();
