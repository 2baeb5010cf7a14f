#!/usr/bin/env node
// fake-upstream.mjs: an OpenAI-compatible fake inference server for benchmarks and tests.
// Plain Node (no npm dependencies). Listens on 127.0.0.1 only by default.
//
//   node bench/fake-upstream.mjs --port 0 --latency-ms 50 --fail-rate 0 --status-429-rate 0
//
// Options (each also readable from the environment variable in brackets):
//   --port N             port to listen on, 0 = random              [PORT]            default 0
//   --host H             address to bind                            [HOST]            default 127.0.0.1
//   --latency-ms N       delay before every inference answer        [LATENCY_MS]      default 50
//   --fail-rate F        fraction of requests answered 500          [FAIL_RATE]       default 0
//   --status-429-rate F  fraction answered 429 with Retry-After: 1  [STATUS_429_RATE] default 0
//   --answer-bytes N     pad each chat/completions answer's text    [ANSWER_BYTES]    default 0
//                        with "x" to at least N characters (big answers)
//   --quiet              do not print the stats summary on exit     [QUIET=1]
//
// The first line on stdout is always `listening on PORT`.
//
// Routes:
//   POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses
//   GET  /v1/models          a list holding the models seen so far (plus "fake-model")
//   GET  /stats              {"requests","by_path","by_status","in_flight","max_in_flight",...,"by_key"}
//                            by_key: requests per key, the key being the body's messages[0].content
//                            (or its prompt / input when that is a string); GET /stats?by_key=0 leaves it out
//   POST /stats/reset        zeroes the counters (max_in_flight too)
//   GET  /health             {"status":"ok"}
// Only the POST inference routes count as `requests`; /stats, /health and /v1/models do not.

import http from 'node:http';
import { openaiHandlers, makeEcho, responseInputLastUser, send, sendError } from './openai-answers.mjs';

// ---------- options ----------
function parseArgs(argv) {
  const opts = {
    port: num(process.env.PORT, 0),
    host: process.env.HOST || '127.0.0.1',
    latencyMs: num(process.env.LATENCY_MS, 50),
    failRate: num(process.env.FAIL_RATE, 0),
    rate429: num(process.env.STATUS_429_RATE, 0),
    answerBytes: num(process.env.ANSWER_BYTES, 0),
    quiet: process.env.QUIET === '1',
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
    const next = () => { if (v !== undefined) return v; if (i + 1 >= argv.length) die(`missing value for ${a}`); return argv[++i]; };
    switch (a) {
      case '--port': opts.port = numOrDie(a, next()); break;
      case '--host': opts.host = next(); break;
      case '--latency-ms': opts.latencyMs = numOrDie(a, next()); break;
      case '--fail-rate': opts.failRate = numOrDie(a, next()); break;
      case '--status-429-rate': opts.rate429 = numOrDie(a, next()); break;
      case '--answer-bytes': opts.answerBytes = numOrDie(a, next()); break;
      case '--quiet': opts.quiet = true; break;
      case '-h': case '--help':
        process.stdout.write('usage: node fake-upstream.mjs [--port N] [--host H] [--latency-ms N] [--fail-rate F] [--status-429-rate F] [--answer-bytes N] [--quiet]\n');
        process.exit(0);
      default: die(`unknown option ${a}`);
    }
  }
  if (opts.failRate < 0 || opts.rate429 < 0 || opts.failRate + opts.rate429 > 1) die('rates must be >= 0 and sum to <= 1');
  if (opts.latencyMs < 0) die('--latency-ms must be >= 0');
  return opts;
}
function num(s, dflt) { if (s === undefined || s === '') return dflt; const n = Number(s); return Number.isFinite(n) ? n : dflt; }
function numOrDie(name, s) { const n = Number(s); if (!Number.isFinite(n)) die(`${name}: not a number: ${s}`); return n; }
function die(msg) { process.stderr.write(`fake-upstream: ${msg}\n`); process.exit(2); }

const opts = parseArgs(process.argv.slice(2));

// ---------- stats ----------
const INFERENCE_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses'];
let stats;
function resetStats() {
  stats = {
    requests: 0,
    by_path: Object.fromEntries(INFERENCE_PATHS.map((p) => [p, 0])),
    by_status: {},
    in_flight: 0,
    max_in_flight: 0,
    connections: 0,
    max_connections: 0,
    first_request_at: null,
    last_request_at: null,
    reset_at: Date.now() / 1000,
  };
  byKey = new Map();
}
let byKey;
resetStats();
let openConnections = 0;
const modelsSeen = new Set(['fake-model']);

function countStatus(code) { stats.by_status[code] = (stats.by_status[code] || 0) + 1; }
// The key a request is counted under in by_key: messages[0].content, else prompt, else input (strings only).
function keyOf(body) {
  if (!body || typeof body !== 'object') return null;
  const m = Array.isArray(body.messages) ? body.messages[0] : undefined;
  if (m && typeof m.content === 'string') return m.content;
  if (typeof body.prompt === 'string') return body.prompt;
  if (typeof body.input === 'string') return body.input;
  return null;
}
function countKey(body) {
  const k = keyOf(body);
  if (k !== null) byKey.set(k, (byKey.get(k) || 0) + 1);
}

// ---------- answers (bench/openai-answers.mjs) ----------
// The echoed answer: "echo: " + the first 200 characters of the prompt, so output lines stay small
// (padded with "x" to --answer-bytes characters when that is set).
const HANDLERS = openaiHandlers({
  echo: makeEcho(opts.answerBytes),
  systemFingerprint: 'fp_fake',
  responseInput: responseInputLastUser, // the last user item; input tokens add the instructions
});

// ---------- server ----------
const latency = opts.latencyMs;
const failRate = opts.failRate;
const rate429 = opts.rate429;

function handleInference(req, res, path, handler) {
  stats.requests++;
  stats.by_path[path]++;
  stats.in_flight++;
  if (stats.in_flight > stats.max_in_flight) stats.max_in_flight = stats.in_flight;
  const t = Date.now() / 1000;
  if (stats.first_request_at === null) stats.first_request_at = t;
  stats.last_request_at = t;

  let done = false;
  const finish = () => { if (!done) { done = true; stats.in_flight--; } };
  res.on('close', finish); // also covers clients that hang up before the answer

  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    // Parsed on arrival, so by_key also counts requests whose client goes away before the answer.
    let body, parseError = false;
    try {
      body = JSON.parse(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    } catch {
      parseError = true;
    }
    if (!parseError) countKey(body);
    const answer = () => {
      if (res.destroyed) { finish(); return; }
      const r = (failRate > 0 || rate429 > 0) ? Math.random() : 1;
      let status;
      if (r < rate429) {
        status = 429;
        sendError(res, 429, 'Rate limit reached (fake upstream)', 'rate_limit_error', 'rate_limit_exceeded', { 'retry-after': '1' });
      } else if (r < rate429 + failRate) {
        status = 500;
        sendError(res, 500, 'Internal error (fake upstream, injected)', 'server_error', null);
      } else {
        if (parseError) {
          status = 400;
          sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
        }
        if (status === undefined) {
          if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.model !== 'string') {
            status = 400;
            sendError(res, 400, 'you must provide a model parameter', 'invalid_request_error', null);
          } else {
            status = 200;
            if (!modelsSeen.has(body.model) && modelsSeen.size < 1000) modelsSeen.add(body.model);
            send(res, 200, handler(body));
          }
        }
      }
      countStatus(status);
      finish();
    };
    if (latency > 0) setTimeout(answer, latency); else answer();
  });
  req.on('error', finish);
}

const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const handler = HANDLERS[path];
  if (handler) {
    if (req.method !== 'POST') { req.resume(); sendError(res, 405, `Method ${req.method} not allowed on ${path}`, 'invalid_request_error', 'method_not_allowed'); return; }
    handleInference(req, res, path, handler);
    return;
  }
  req.resume();
  if (req.method === 'GET' && path === '/stats') {
    const out = { ...stats, open_connections: openConnections, latency_ms: latency, fail_rate: failRate, status_429_rate: rate429 };
    if (!/[?&]by_key=0(&|$)/.test(req.url)) out.by_key = Object.fromEntries(byKey);
    send(res, 200, out);
  } else if (req.method === 'POST' && path === '/stats/reset') {
    resetStats();
    send(res, 200, { reset: true });
  } else if (req.method === 'GET' && (path === '/health' || path === '/healthz')) {
    send(res, 200, { status: 'ok' });
  } else if (req.method === 'GET' && path === '/v1/models') {
    send(res, 200, { object: 'list', data: [...modelsSeen].map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake-upstream' })) });
  } else {
    sendError(res, 404, `Unknown request URL: ${req.method} ${path}`, 'invalid_request_error', 'unknown_url');
  }
});

// No limits that could get in the way of a benchmark: unlimited connections, long keep-alive,
// no request timeout (the ingest benchmark holds requests for a minute or more).
server.maxConnections = Infinity;
server.keepAliveTimeout = 10 * 60 * 1000;
server.headersTimeout = 10 * 60 * 1000 + 1000; // must exceed keepAliveTimeout
server.requestTimeout = 0;
server.timeout = 0;
server.maxRequestsPerSocket = 0;
server.on('connection', (sock) => {
  openConnections++;
  stats.connections++;
  if (openConnections > stats.max_connections) stats.max_connections = openConnections;
  sock.on('close', () => { openConnections--; });
});
server.on('clientError', (err, sock) => {
  if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  else sock.destroy();
});
server.on('error', (err) => die(`server error: ${err.message}`));

server.listen(opts.port, opts.host, () => {
  process.stdout.write(`listening on ${server.address().port}\n`);
  process.stderr.write(`fake-upstream: ${opts.host}:${server.address().port} latency=${latency}ms fail-rate=${failRate} 429-rate=${rate429}\n`);
});

function shutdown(sig) {
  if (!opts.quiet) process.stderr.write(`fake-upstream: ${sig}, stats ${JSON.stringify(stats)}\n`);
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
