#!/usr/bin/env node
// interactive-load.mjs: an open-loop "interactive user" load (plain Node, no dependencies):
// requests arrive as a Poisson process at --rate per second for --seconds, whatever the server's
// answers take (arrivals never wait for answers), each a small chat completion sent with the
// header `x-load-class: interactive` (bench/slot-server.mjs counts it in that class). At the end
// one JSON line on stdout:
//
//   {"sent","ok","errors","timeouts","p50","p95","p99","max","mean",...}   (latencies in ms)
//
//   node bench/interactive-load.mjs --url http://127.0.0.1:PORT --rate 80 --seconds 30
//   node bench/interactive-load.mjs --url http://127.0.0.1:PORT/v1/chat/completions --rate 80 --seconds 30 --out bench/out/x.json
//
// Options:
//   --url U          the server root (then --path is appended) or a full URL with a path   (required)
//   --path P         default /v1/chat/completions (used when --url has no path)
//   --rate R         mean arrivals per second (default 10)
//   --seconds T      arrivals stop after T seconds (default 30); never more than 2·R·T requests
//   --seed N         seed of the arrival times (default 1): the same seed gives the same arrivals,
//                    so runs with and without a batch beside them see the same load
//   --model M        default bench-model
//   --max-tokens N   default 16
//   --key K          sent as Authorization: Bearer K (default: none)
//   --class C        value of x-load-class (default interactive)
//   --header 'k: v'  one more header (repeatable)
//   --timeout-ms N   a request unanswered after N ms counts as an error (timeouts) (default 60000)
//   --out FILE       also write the JSON there
//
// A latency is from the moment the request is handed to the socket to the end of the answer (a
// 2xx answer counts as ok; any other status, a connection error or a timeout as an error, and
// only ok answers make the percentiles). `lag_ms` says how late the client itself sent compared
// with the schedule (a busy machine): p99 and max; a large lag means the client, not the server,
// shaped the load. `achieved_rate` is sent / the arrival window; `started_at` and `last_arrival_at`
// (unix seconds) bound that window.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';

const a = { url: null, path: '/v1/chat/completions', rate: 10, seconds: 30, seed: 1, model: 'bench-model', maxTokens: 16, key: null, cls: 'interactive', headers: {}, timeoutMs: 60000, out: null };
const argv = process.argv.slice(2);
function die(m) { process.stderr.write(`interactive-load: ${m}\n`); process.exit(2); }
for (let i = 0; i < argv.length; i++) {
  let k = argv[i], v;
  const eq = k.indexOf('=');
  if (k.startsWith('--') && eq > 0) { v = k.slice(eq + 1); k = k.slice(0, eq); }
  const next = () => { if (v !== undefined) return v; if (i + 1 >= argv.length) die(`missing value for ${k}`); return argv[++i]; };
  const n = () => { const s = next(), x = Number(s); if (!Number.isFinite(x)) die(`${k}: not a number: ${s}`); return x; };
  switch (k) {
    case '--url': a.url = next(); break;
    case '--path': a.path = next(); break;
    case '--rate': a.rate = n(); break;
    case '--seconds': a.seconds = n(); break;
    case '--seed': a.seed = n(); break;
    case '--model': a.model = next(); break;
    case '--max-tokens': a.maxTokens = n(); break;
    case '--key': a.key = next(); break;
    case '--class': a.cls = next(); break;
    case '--header': { const h = next(), c = h.indexOf(':'); if (c <= 0) die(`--header wants 'name: value', got ${h}`); a.headers[h.slice(0, c).trim().toLowerCase()] = h.slice(c + 1).trim(); break; }
    case '--timeout-ms': a.timeoutMs = n(); break;
    case '--out': a.out = next(); break;
    case '-h': case '--help': process.stdout.write('usage: node interactive-load.mjs --url U [--rate R] [--seconds T] [--seed N] [--path P] [--model M] [--max-tokens N] [--key K] [--class C] [--header "k: v"] [--timeout-ms N] [--out FILE]\n'); process.exit(0);
    default: die(`unknown option ${k}`);
  }
}
if (!a.url) die('--url is required');
if (!(a.rate > 0)) die('--rate must be > 0');
if (!(a.seconds > 0)) die('--seconds must be > 0');
const u = new URL(a.url);
const path = (u.pathname && u.pathname !== '/' ? u.pathname : a.path) + u.search;
const lib = u.protocol === 'https:' ? https : http;
const agent = new lib.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
const maxRequests = Math.max(1, Math.floor(2 * a.rate * a.seconds));

// mulberry32: a small seeded PRNG, so that the arrival times are reproducible
let seed = (a.seed >>> 0) || 1;
function rand() {
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const expGap = () => -Math.log(1 - rand()) * 1000 / a.rate; // ms

const now = () => Number(process.hrtime.bigint()) / 1e6;
const lat = [], lags = [], byStatus = {};
let sent = 0, ok = 0, errors = 0, timeouts = 0, inFlight = 0, maxInFlight = 0, arrivalsDone = false;
const t0 = now();
const wall0 = Date.now() / 1000; // unix seconds at t0, to line the window up with other clocks (slot-server's series)
const endAt = t0 + a.seconds * 1000;
let nextAt = t0 + expGap();
let lastSentAt = t0;

function one(scheduled) {
  sent++;
  const body = JSON.stringify({ model: a.model, messages: [{ role: 'user', content: `interactive ${sent}` }], max_tokens: a.maxTokens });
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-load-class': a.cls, ...a.headers };
  if (a.key) headers.authorization = `Bearer ${a.key}`;
  const ts = now();
  lastSentAt = ts;
  lags.push(ts - scheduled);
  inFlight++; if (inFlight > maxInFlight) maxInFlight = inFlight;
  let settled = false;
  const settle = (status, isOk, err) => {
    if (settled) return;
    settled = true;
    inFlight--;
    byStatus[status] = (byStatus[status] || 0) + 1;
    if (isOk) { ok++; lat.push(now() - ts); } else { errors++; if (errors <= 5 && err) process.stderr.write(`interactive-load: ${err}\n`); }
    if (arrivalsDone && inFlight === 0) report();
  };
  const req = lib.request({ agent, host: u.hostname, port: u.port, path, method: 'POST', headers }, (res) => {
    res.on('data', () => {});
    res.on('end', () => settle(res.statusCode, res.statusCode >= 200 && res.statusCode < 300));
    res.on('error', (e) => settle('error', false, e.message));
  });
  req.setTimeout(a.timeoutMs, () => { timeouts++; settle('timeout', false, `timeout after ${a.timeoutMs} ms`); req.destroy(); });
  req.on('error', (e) => settle(e.code || 'error', false, e.message));
  req.end(body);
}

// The schedule: every arrival due by now is sent (a late timer sends the overdue ones at once,
// so the load stays open-loop), then sleep until the next one.
function tick() {
  const t = now();
  while (nextAt <= t && nextAt < endAt && sent < maxRequests) { one(nextAt); nextAt += expGap(); }
  if (nextAt >= endAt || sent >= maxRequests) {
    arrivalsDone = true;
    if (inFlight === 0) report();
    return;
  }
  setTimeout(tick, Math.max(0, nextAt - now()));
}

let reported = false;
function report() {
  if (reported) return;
  reported = true;
  const window = Math.max(1e-3, Math.min(a.seconds * 1000, lastSentAt - t0)) / 1000;
  const s = Float64Array.from(lat).sort();
  const q = (arr, p) => arr.length ? +arr[Math.min(arr.length - 1, Math.max(0, Math.ceil(p * arr.length) - 1))].toFixed(1) : null;
  let sum = 0; for (const v of s) sum += v;
  const lg = Float64Array.from(lags).sort();
  const out = {
    url: `${u.protocol}//${u.host}${path}`, rate: a.rate, seconds: a.seconds, seed: a.seed,
    sent, ok, errors, timeouts,
    p50: q(s, 0.5), p95: q(s, 0.95), p99: q(s, 0.99), max: s.length ? +s[s.length - 1].toFixed(1) : null, mean: s.length ? +(sum / s.length).toFixed(1) : null,
    achieved_rate: +(sent / window).toFixed(2), max_in_flight: maxInFlight, by_status: byStatus,
    lag_ms: { p99: q(lg, 0.99), max: lg.length ? +lg[lg.length - 1].toFixed(1) : null },
    started_at: +wall0.toFixed(3), last_arrival_at: +(wall0 + window).toFixed(3),
    elapsed_s: +((now() - t0) / 1000).toFixed(2),
  };
  const line = JSON.stringify(out);
  if (a.out) fs.writeFileSync(a.out, line + '\n');
  process.stdout.write(line + '\n');
  agent.destroy();
  process.exit(0);
}

tick();
