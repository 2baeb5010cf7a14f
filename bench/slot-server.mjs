#!/usr/bin/env node
// slot-server.mjs: a fake inference server that behaves like a continuous-batching server
// (vLLM, SGLang) under load: N slots, a service time, ONE queue behind them. For the fleet
// benchmarks (bench/fleet.sh): how an interactive user's latency suffers when a batch fills the
// queue, how much of the server a batch gets, what happens when the server slows down or stops.
// Plain Node (no npm dependencies). Listens on 127.0.0.1 only by default.
//
//   node bench/slot-server.mjs --slots 32 --service-ms 200
//   node bench/slot-server.mjs --slots 32 --service-ms 200 --priority-scheduling --max-queue 1000
//
// Options (each also readable from the environment variable in brackets):
//   --port N               API port, 0 = random                        [PORT]        default 0
//   --admin-port N         admin port, 0 = random (see below)          [ADMIN_PORT]  default 0
//   --host H               address to bind                             [HOST]        default 127.0.0.1
//   --slots N              requests served at once                     [SLOTS]       default 32
//   --service-ms S         time one request holds its slot             [SERVICE_MS]  default 200
//   --service-jitter F     each service time uniform in S × [1-F, 1+F] [SERVICE_JITTER] default 0
//   --max-queue Q          waiting requests beyond Q are answered 503  [MAX_QUEUE]   default unlimited
//   --priority-scheduling  the queue is ordered by the body's integer `priority` (lower first,
//                          missing = 0), FIFO within one priority, as vLLM's
//                          --scheduling-policy priority (no preemption of running requests)
//   --model-name M         model_name label of the vLLM gauges         [MODEL_NAME]  default bench-model
//   --series-s N           seconds of 100 ms samples kept              [SERIES_S]    default 600
//   --quiet                no summary on stderr at exit                [QUIET=1]
//
// stdout: first line `listening on PORT` (as fake-upstream.mjs), second line `admin on PORT`.
//
// The queue: a request is read in full, then queued; a free slot takes the head of the queue and
// holds it for service-ms × the slowdown factor in force when it started (POST /admin/slow), then
// the answer is sent. Service times are kept on a virtual clock (see dispatch), so that a slot's
// throughput is exact even when the timers fire late; latencies are real (arrival to answer). A client that hangs up while queued leaves the queue; one that hangs up
// while served frees its slot at once (vLLM aborts the request). Answers are fake-upstream.mjs's
// (bench/openai-answers.mjs: an echo of the prompt, with usage). Bodies that are not JSON or have no model: 400 at once,
// no slot.
//
// Classes and clients: header `x-load-class: interactive` → class interactive, anything else →
// batch. Client = the Authorization header value without "Bearer " ("(none)" when absent; at most
// 200 distinct clients, the rest count as "(other)"), so each openbatch replica given its own
// upstream api-key is counted apart.
//
// Routes on the API port (all of them also on the admin port, which stays up while the API port is
// stopped, so a benchmark can read /stats and start it again):
//   POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses   (queued, as above)
//   GET  /v1/models
//   GET  /metrics        Prometheus text: vllm:num_requests_running / vllm:num_requests_waiting
//                        {model_name="M"}, vllm:gpu_cache_usage_perc and vllm:kv_cache_usage_perc
//                        (running / slots), sglang:num_running_reqs, sglang:num_queue_reqs (waiting),
//                        slot_server_* (slots, slowdown factor, totals)
//   GET  /stats          JSON: per class count/ok/rejected/cancelled/aborted, latency_ms, queue_ms,
//                        service_ms and timer_lag_ms {p50,p95,p99,max,mean} (total = arrival to
//                        answer; queue = arrival to the service's start; lag = answer sent after
//                        the service's end), done, max_in_flight, max_running, max_waiting; overall
//                        max_in_flight (running + waiting), max_running, max_waiting; per client
//                        requests, done, max_in_flight (running + waiting), max_running; `series`:
//                        one sample every 100 ms {t (unix s), running, waiting, running_by_class,
//                        waiting_by_class, running_by_client, done_by_class, done_by_client
//                        (cumulative since the reset)} for the last --series-s seconds.
//                        ?series=0 leaves the series out, ?since=T keeps samples with t > T.
//   POST /stats/reset    zeroes every counter, percentile and the series (not what is queued/running)
//   POST /admin/slow?factor=4&seconds=30   service time × factor for requests starting in the next
//                        `seconds` (0 or missing = until changed; factor=1 ends it)
//   POST /admin/stop[?seconds=N]   the API port stops: its listening socket is closed (new
//                        connections are refused) and every open connection is destroyed; what was
//                        queued or running is dropped (counted as aborted). With seconds, it listens
//                        again on the same port after N s. SIGUSR1 does the same (no restart).
//   POST /admin/start    listen again on the same port (SIGUSR2 too)
//   GET  /health         {"status":"ok", "accepting": true|false}

import http from 'node:http';
import { openaiHandlers, makeEcho, responseInputLastItem, send, sendError } from './openai-answers.mjs';

// ---------- options ----------
function num(s, dflt) { if (s === undefined || s === '') return dflt; const n = Number(s); return Number.isFinite(n) ? n : dflt; }
function numOrDie(name, s) { const n = Number(s); if (!Number.isFinite(n)) die(`${name}: not a number: ${s}`); return n; }
function die(msg) { process.stderr.write(`slot-server: ${msg}\n`); process.exit(2); }
function parseArgs(argv) {
  const o = {
    port: num(process.env.PORT, 0),
    adminPort: num(process.env.ADMIN_PORT, 0),
    host: process.env.HOST || '127.0.0.1',
    slots: num(process.env.SLOTS, 32),
    serviceMs: num(process.env.SERVICE_MS, 200),
    jitter: num(process.env.SERVICE_JITTER, 0),
    maxQueue: num(process.env.MAX_QUEUE, Infinity),
    priority: false,
    modelName: process.env.MODEL_NAME || 'bench-model',
    seriesS: num(process.env.SERIES_S, 600),
    quiet: process.env.QUIET === '1',
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i], v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
    const next = () => { if (v !== undefined) return v; if (i + 1 >= argv.length) die(`missing value for ${a}`); return argv[++i]; };
    switch (a) {
      case '--port': o.port = numOrDie(a, next()); break;
      case '--admin-port': o.adminPort = numOrDie(a, next()); break;
      case '--host': o.host = next(); break;
      case '--slots': o.slots = numOrDie(a, next()); break;
      case '--service-ms': o.serviceMs = numOrDie(a, next()); break;
      case '--service-jitter': o.jitter = numOrDie(a, next()); break;
      case '--max-queue': o.maxQueue = numOrDie(a, next()); break;
      case '--priority-scheduling': o.priority = true; break;
      case '--model-name': o.modelName = next(); break;
      case '--series-s': o.seriesS = numOrDie(a, next()); break;
      case '--quiet': o.quiet = true; break;
      case '-h': case '--help':
        process.stdout.write('usage: node slot-server.mjs [--port N] [--admin-port N] [--host H] [--slots N] [--service-ms S] [--service-jitter F] [--max-queue Q] [--priority-scheduling] [--model-name M] [--series-s N] [--quiet]\n');
        process.exit(0);
      default: die(`unknown option ${a}`);
    }
  }
  if (!(o.slots >= 1) || !Number.isInteger(o.slots)) die('--slots must be an integer >= 1');
  if (!(o.serviceMs >= 0)) die('--service-ms must be >= 0');
  if (!(o.jitter >= 0 && o.jitter < 1)) die('--service-jitter must be in [0, 1)');
  if (!(o.maxQueue >= 0)) die('--max-queue must be >= 0');
  return o;
}
const opts = parseArgs(process.argv.slice(2));
const CLASSES = ['interactive', 'batch'];
const MAX_CLIENTS = 200;
const MAX_SAMPLES = 1_000_000; // latency samples kept per class between resets

// ---------- answers (bench/openai-answers.mjs, as fake-upstream.mjs's but not padded) ----------
const HANDLERS = openaiHandlers({
  echo: makeEcho(0),
  systemFingerprint: 'fp_slots',
  responseInput: responseInputLastItem, // the last input item whatever its role; no instructions
});
const modelsSeen = new Set([opts.modelName]);

// ---------- the queue: a binary heap on (priority, arrival sequence) ----------
// In FIFO mode every priority is 0, so the order is the arrival order.
const heap = [];
const before = (a, b) => a.prio < b.prio || (a.prio === b.prio && a.seq < b.seq);
function heapPush(j) {
  heap.push(j);
  let i = heap.length - 1;
  while (i > 0) { const p = (i - 1) >> 1; if (!before(heap[i], heap[p])) break; [heap[i], heap[p]] = [heap[p], heap[i]]; i = p; }
}
function heapPop() {
  const top = heap[0], last = heap.pop();
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1; let m = i;
      if (l < heap.length && before(heap[l], heap[m])) m = l;
      if (r < heap.length && before(heap[r], heap[m])) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m], heap[i]]; i = m;
    }
  }
  return top;
}

// ---------- state and stats ----------
let seq = 0;
const running = new Set();             // jobs holding a slot
let waiting = 0;                       // jobs in the heap that are still queued (the heap may hold cancelled ones)
const runningBy = { interactive: 0, batch: 0 }, waitingBy = { interactive: 0, batch: 0 };
const clientRunning = new Map(), clientWaiting = new Map();
let slowFactor = 1, slowUntil = 0, slowTimer = null;
let stats;
function classStats() {
  return { requests: 0, ok: 0, bad_request: 0, rejected: 0, cancelled: 0, aborted: 0, done: 0,
    max_in_flight: 0, max_running: 0, max_waiting: 0, lat: [], queue: [], service: [], lag: [], truncated: false };
}
function resetStats() {
  stats = {
    reset_at: Date.now() / 1000,
    classes: Object.fromEntries(CLASSES.map((c) => [c, classStats()])),
    clients: new Map(),
    max_in_flight: running.size + waiting, max_running: running.size, max_waiting: waiting,
    series: [],
  };
}
resetStats();
function clientOf(auth) {
  let k = typeof auth === 'string' && auth ? auth.replace(/^Bearer\s+/i, '') : '(none)';
  if (!stats.clients.has(k) && stats.clients.size >= MAX_CLIENTS && !clientRunning.has(k)) k = '(other)';
  return k;
}
function clientStats(k) {
  let c = stats.clients.get(k);
  if (!c) { c = { requests: 0, done: 0, max_in_flight: 0, max_running: 0 }; stats.clients.set(k, c); }
  return c;
}
const inc = (m, k, d) => { const v = (m.get(k) || 0) + d; if (v === 0) m.delete(k); else m.set(k, v); return v; };
function noteLevels(job) {
  const cs = stats.classes[job.cls], inFlight = running.size + waiting;
  if (inFlight > stats.max_in_flight) stats.max_in_flight = inFlight;
  if (running.size > stats.max_running) stats.max_running = running.size;
  if (waiting > stats.max_waiting) stats.max_waiting = waiting;
  const cr = runningBy[job.cls], cw = waitingBy[job.cls];
  if (cr + cw > cs.max_in_flight) cs.max_in_flight = cr + cw;
  if (cr > cs.max_running) cs.max_running = cr;
  if (cw > cs.max_waiting) cs.max_waiting = cw;
  const c = clientStats(job.client), r = clientRunning.get(job.client) || 0, w = clientWaiting.get(job.client) || 0;
  if (r + w > c.max_in_flight) c.max_in_flight = r + w;
  if (r > c.max_running) c.max_running = r;
}
function record(arr, cs, v) { if (arr.length < MAX_SAMPLES) arr.push(v); else cs.truncated = true; }
function summary(arr) {
  if (arr.length === 0) return { p50: null, p95: null, p99: null, max: null, mean: null };
  const s = Float64Array.from(arr).sort();
  const q = (p) => +s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))].toFixed(1);
  let sum = 0; for (const v of s) sum += v;
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: +s[s.length - 1].toFixed(1), mean: +(sum / s.length).toFixed(1) };
}
const hr = () => Number(process.hrtime.bigint()) / 1e6; // ms, monotonic

// ---------- serving ----------
function serviceTime() {
  const f = slowFactor;
  const j = opts.jitter > 0 ? 1 + opts.jitter * (2 * Math.random() - 1) : 1;
  return opts.serviceMs * f * j;
}
// dispatch(vFree): fills free slots from the head of the queue. A slot freed by finish() is free
// since its job's deadline, not since the (possibly late) timer fired: the next job's service
// starts then (or at its arrival, if later), so a busy slot serves exactly 1000 / service-ms
// requests per second however late this process's timers run on a busy machine (its capacity is
// the GPU's, not the event loop's). The lateness is reported as timer_lag_ms.
function dispatch(vFree) {
  while (running.size < opts.slots && heap.length > 0) {
    const job = heapPop();
    if (job.state !== 'queued') continue; // cancelled while waiting
    waiting--; waitingBy[job.cls]--; inc(clientWaiting, job.client, -1);
    job.state = 'running';
    const t = hr();
    job.tStart = vFree === undefined ? t : Math.min(t, Math.max(job.tArrive, vFree));
    vFree = undefined;
    job.deadline = job.tStart + serviceTime();
    running.add(job); runningBy[job.cls]++; inc(clientRunning, job.client, 1);
    noteLevels(job);
    job.timer = setTimeout(finish, Math.max(0, job.deadline - t), job);
  }
}
function leaveSlot(job) {
  running.delete(job); runningBy[job.cls]--; inc(clientRunning, job.client, -1);
}
function finish(job) {
  if (job.state !== 'running') return;
  leaveSlot(job);
  job.state = 'done';
  const t = hr(), cs = stats.classes[job.cls];
  if (!job.res.destroyed) {
    send(job.res, 200, job.handler(job.body));
    cs.ok++;
  }
  cs.done++;
  clientStats(job.client).done++;
  record(cs.lat, cs, t - job.tArrive);
  record(cs.queue, cs, job.tStart - job.tArrive);
  record(cs.service, cs, job.deadline - job.tStart);
  record(cs.lag, cs, t - job.deadline);
  dispatch(job.deadline);
}
// the client went away (or the API port was stopped): leave the queue or free the slot
function drop(job, why) {
  const cs = stats.classes[job.cls];
  if (job.state === 'queued') {
    job.state = why; waiting--; waitingBy[job.cls]--; inc(clientWaiting, job.client, -1);
  } else if (job.state === 'running') {
    clearTimeout(job.timer); leaveSlot(job); job.state = why;
  } else return;
  if (why === 'aborted') cs.aborted++; else cs.cancelled++;
  dispatch();
}
const live = new Set(); // jobs queued or running, so that /admin/stop can drop them

function handleInference(req, res, path, handler) {
  const tArrive = hr();
  const cls = String(req.headers['x-load-class'] || '').toLowerCase() === 'interactive' ? 'interactive' : 'batch';
  const client = clientOf(req.headers.authorization);
  const cs = stats.classes[cls];
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('error', () => {});
  req.on('end', () => {
    cs.requests++;
    clientStats(client).requests++;
    let body;
    try { body = JSON.parse(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)); } catch { body = undefined; }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      cs.bad_request++;
      sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null); return;
    }
    if (typeof body.model !== 'string') {
      cs.bad_request++;
      sendError(res, 400, 'you must provide a model parameter', 'invalid_request_error', null); return;
    }
    if (!modelsSeen.has(body.model) && modelsSeen.size < 1000) modelsSeen.add(body.model);
    if (running.size >= opts.slots && waiting >= opts.maxQueue) {
      cs.rejected++;
      sendError(res, 503, 'The server is overloaded: the queue is full (slot-server --max-queue)', 'server_error', 'overloaded', { 'retry-after': '1' });
      return;
    }
    const prio = opts.priority && Number.isInteger(body.priority) ? body.priority : 0;
    const job = { seq: seq++, prio, cls, client, tArrive, tStart: 0, state: 'queued', res, body, handler, timer: null };
    live.add(job);
    res.on('close', () => { live.delete(job); drop(job, 'cancelled'); });
    waiting++; waitingBy[cls]++; inc(clientWaiting, client, 1);
    heapPush(job);
    dispatch();
    noteLevels(job); // after dispatch: a request that got a slot at once never counts as waiting
  });
}

// ---------- series: one sample every 100 ms ----------
const SAMPLE_MS = 100;
const maxSamples = Math.max(10, Math.round(opts.seriesS * 1000 / SAMPLE_MS));
function sample() {
  const doneBy = {}, doneClient = {};
  for (const c of CLASSES) doneBy[c] = stats.classes[c].done;
  for (const [k, v] of stats.clients) if (v.done) doneClient[k] = v.done;
  stats.series.push({
    t: +(Date.now() / 1000).toFixed(3), running: running.size, waiting,
    running_by_class: { ...runningBy }, waiting_by_class: { ...waitingBy },
    running_by_client: Object.fromEntries(clientRunning), done_by_class: doneBy, done_by_client: doneClient,
  });
  if (stats.series.length > maxSamples + maxSamples / 10) stats.series.splice(0, stats.series.length - maxSamples);
}
setInterval(sample, SAMPLE_MS).unref();

function statsJson(url) {
  const classes = {};
  for (const c of CLASSES) {
    const s = stats.classes[c];
    classes[c] = {
      requests: s.requests, ok: s.ok, done: s.done, bad_request: s.bad_request, rejected: s.rejected, cancelled: s.cancelled, aborted: s.aborted,
      running: runningBy[c], waiting: waitingBy[c], max_in_flight: s.max_in_flight, max_running: s.max_running, max_waiting: s.max_waiting,
      latency_ms: summary(s.lat), queue_ms: summary(s.queue), service_ms: summary(s.service), timer_lag_ms: summary(s.lag), samples_truncated: s.truncated,
    };
  }
  const clients = {};
  for (const [k, v] of stats.clients) clients[k] = { ...v, running: clientRunning.get(k) || 0, waiting: clientWaiting.get(k) || 0 };
  const now = Date.now() / 1000;
  const out = {
    now: +now.toFixed(3), reset_at: +stats.reset_at.toFixed(3), seconds: +(now - stats.reset_at).toFixed(3),
    slots: opts.slots, service_ms: opts.serviceMs, service_jitter: opts.jitter, capacity_per_s: opts.serviceMs > 0 ? +(opts.slots * 1000 / opts.serviceMs).toFixed(3) : null,
    max_queue: Number.isFinite(opts.maxQueue) ? opts.maxQueue : null, priority_scheduling: opts.priority,
    slow_factor: slowFactor, slow_until: slowUntil ? +(slowUntil / 1000).toFixed(3) : null, accepting,
    running: running.size, waiting, max_in_flight: stats.max_in_flight, max_running: stats.max_running, max_waiting: stats.max_waiting,
    classes, clients,
  };
  const q = url.searchParams;
  if (q.get('series') !== '0') {
    const since = Number(q.get('since'));
    out.series = Number.isFinite(since) && q.has('since') ? stats.series.filter((s) => s.t > since) : stats.series;
  }
  return out;
}
function metricsText() {
  const m = `model_name="${opts.modelName.replace(/["\\\n]/g, '_')}"`;
  const usage = (running.size / opts.slots).toFixed(6);
  const lines = [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{${m}} ${running.size}`,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{${m}} ${waiting}`,
    '# HELP vllm:num_requests_swapped Number of requests swapped to CPU.',
    '# TYPE vllm:num_requests_swapped gauge',
    `vllm:num_requests_swapped{${m}} 0`,
    '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.',
    '# TYPE vllm:gpu_cache_usage_perc gauge',
    `vllm:gpu_cache_usage_perc{${m}} ${usage}`,
    '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
    '# TYPE vllm:kv_cache_usage_perc gauge',
    `vllm:kv_cache_usage_perc{${m}} ${usage}`,
    '# HELP sglang:num_running_reqs The number of running requests.',
    '# TYPE sglang:num_running_reqs gauge',
    `sglang:num_running_reqs{${m}} ${running.size}`,
    '# HELP sglang:num_queue_reqs The number of requests in the waiting queue.',
    '# TYPE sglang:num_queue_reqs gauge',
    `sglang:num_queue_reqs{${m}} ${waiting}`,
    '# HELP slot_server_slots Requests served at once.',
    '# TYPE slot_server_slots gauge',
    `slot_server_slots ${opts.slots}`,
    '# HELP slot_server_slow_factor Current service time multiplier.',
    '# TYPE slot_server_slow_factor gauge',
    `slot_server_slow_factor ${slowFactor}`,
    '# HELP slot_server_requests_done_total Requests answered after their service time, since the last reset.',
    '# TYPE slot_server_requests_done_total counter',
    ...CLASSES.map((c) => `slot_server_requests_done_total{class="${c}"} ${stats.classes[c].done}`),
  ];
  return lines.join('\n') + '\n';
}

// ---------- admin ----------
function setSlow(factor, seconds) {
  if (slowTimer) { clearTimeout(slowTimer); slowTimer = null; }
  slowFactor = factor; slowUntil = 0;
  if (factor !== 1 && seconds > 0) {
    slowUntil = Date.now() + seconds * 1000;
    slowTimer = setTimeout(() => { slowFactor = 1; slowUntil = 0; slowTimer = null; process.stderr.write('slot-server: slowdown over\n'); }, seconds * 1000);
  }
  process.stderr.write(`slot-server: slowdown factor ${factor}${seconds > 0 ? ` for ${seconds}s` : ''}\n`);
}
let accepting = false, apiPort = opts.port, restartTimer = null;
const sockets = new Set();
function stopApi(seconds) {
  if (restartTimer) { clearTimeout(restartTimer); restartTimer = null; }
  if (accepting) {
    accepting = false;
    api.close();
    for (const s of sockets) s.destroy();
    for (const job of [...live]) { live.delete(job); drop(job, 'aborted'); }
    process.stderr.write(`slot-server: API port ${apiPort} stopped\n`);
  }
  if (seconds > 0) restartTimer = setTimeout(() => { restartTimer = null; startApi(); }, seconds * 1000);
}
function startApi(cb, attempt = 0) {
  if (restartTimer) { clearTimeout(restartTimer); restartTimer = null; }
  if (accepting) { cb?.(); return; }
  accepting = true;
  const onError = (err) => {
    accepting = false;
    if (err.code === 'EADDRINUSE' && attempt < 50 && apiPort !== 0) { setTimeout(() => startApi(cb, attempt + 1), 100); return; }
    die(`cannot listen on ${opts.host}:${apiPort}: ${err.message}`);
  };
  api.once('error', onError);
  api.listen(apiPort, opts.host, () => {
    api.off('error', onError);
    apiPort = api.address().port;
    process.stderr.write(`slot-server: API listening on ${opts.host}:${apiPort}\n`);
    cb?.();
  });
}

// ---------- routing ----------
function route(req, res, isAdmin) {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  const handler = HANDLERS[path];
  if (handler) {
    if (req.method !== 'POST') { req.resume(); sendError(res, 405, `Method ${req.method} not allowed on ${path}`, 'invalid_request_error', 'method_not_allowed'); return; }
    handleInference(req, res, path, handler);
    return;
  }
  req.resume();
  const q = url.searchParams;
  if (req.method === 'GET' && path === '/stats') send(res, 200, statsJson(url));
  else if (req.method === 'POST' && path === '/stats/reset') { resetStats(); send(res, 200, { reset: true, reset_at: stats.reset_at }); }
  else if (req.method === 'GET' && path === '/metrics') {
    const body = metricsText();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else if (req.method === 'GET' && (path === '/health' || path === '/healthz')) send(res, 200, { status: 'ok', accepting });
  else if (req.method === 'GET' && path === '/v1/models') send(res, 200, { object: 'list', data: [...modelsSeen].map((id) => ({ id, object: 'model', created: 0, owned_by: 'slot-server' })) });
  else if (req.method === 'POST' && path === '/admin/slow') {
    const factor = num(q.get('factor') ?? undefined, NaN), seconds = num(q.get('seconds') ?? undefined, 0);
    if (!(factor > 0)) { sendError(res, 400, 'factor must be a number > 0', 'invalid_request_error', null); return; }
    setSlow(factor, seconds);
    send(res, 200, { slow_factor: slowFactor, slow_until: slowUntil ? slowUntil / 1000 : null });
  } else if (req.method === 'POST' && path === '/admin/stop') {
    const seconds = num(q.get('seconds') ?? undefined, 0);
    // answer first (this connection may be one of the API port's), then stop
    send(res, 200, { stopping: true, restart_after_s: seconds > 0 ? seconds : null });
    res.on('finish', () => setImmediate(() => stopApi(seconds)));
  } else if (req.method === 'POST' && path === '/admin/start') {
    if (!isAdmin && !accepting) { sendError(res, 409, 'stopped', 'invalid_request_error', null); return; }
    startApi(() => send(res, 200, { accepting: true, port: apiPort }));
  } else sendError(res, 404, `Unknown request URL: ${req.method} ${path}`, 'invalid_request_error', 'unknown_url');
}

function tune(server) {
  server.maxConnections = Infinity;
  server.keepAliveTimeout = 10 * 60 * 1000;
  server.headersTimeout = 10 * 60 * 1000 + 1000;
  server.requestTimeout = 0;
  server.timeout = 0;
  server.maxRequestsPerSocket = 0;
  server.on('clientError', (err, sock) => {
    if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else sock.destroy();
  });
  return server;
}
const api = tune(http.createServer({ keepAlive: true, noDelay: true }, (req, res) => route(req, res, false)));
api.on('connection', (sock) => { sockets.add(sock); sock.on('close', () => sockets.delete(sock)); });
const admin = tune(http.createServer({ keepAlive: true, noDelay: true }, (req, res) => route(req, res, true)));
admin.on('error', (err) => die(`admin server error: ${err.message}`));

startApi(() => {
  admin.listen(opts.adminPort, opts.host, () => {
    process.stdout.write(`listening on ${apiPort}\nadmin on ${admin.address().port}\n`);
    process.stderr.write(`slot-server: ${opts.host}:${apiPort} (admin ${admin.address().port}) slots=${opts.slots} service=${opts.serviceMs}ms`
      + `${opts.jitter ? ` jitter=${opts.jitter}` : ''} max-queue=${Number.isFinite(opts.maxQueue) ? opts.maxQueue : 'unlimited'}`
      + ` scheduling=${opts.priority ? 'priority' : 'fcfs'} model=${opts.modelName}\n`);
  });
});

process.on('SIGUSR1', () => stopApi(0));
process.on('SIGUSR2', () => startApi());
function shutdown(sig) {
  if (!opts.quiet) {
    const s = statsJson(new URL('http://x/stats?series=0'));
    process.stderr.write(`slot-server: ${sig}, stats ${JSON.stringify(s)}\n`);
  }
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
