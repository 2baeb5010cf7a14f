#!/usr/bin/env node
// results-poller.mjs: a client of GET /v1/batches/{id}/results as a user writes one (plain Node,
// no dependencies): it calls with the cursor of its previous answer, again at once while
// Openbatch-Has-More says so, otherwise every --every-s seconds, until Openbatch-Complete.
//
//   node bench/results-poller.mjs --url http://127.0.0.1:PORT --batch batch-… --out lines.jsonl [--key K] [--every-s 1]
//
// Appends every line it receives to --out, exactly as received. On stdout, once complete, one JSON
// object: calls, lines, bytes, calls that brought lines before the stream was complete, the
// seconds from its first call to the first line and to the end, and its own CPU time.
import http from 'node:http';
import fs from 'node:fs';

const args = { url: null, batch: null, out: null, key: 'bench', everyS: 1, timeoutS: 3600 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i], v = argv[i + 1];
  if (a === '--url') { args.url = v; i++; }
  else if (a === '--batch') { args.batch = v; i++; }
  else if (a === '--out') { args.out = v; i++; }
  else if (a === '--key') { args.key = v; i++; }
  else if (a === '--every-s') { args.everyS = Number(v); i++; }
  else if (a === '--timeout-s') { args.timeoutS = Number(v); i++; }
  else { process.stderr.write(`results-poller: unknown option ${a}\n`); process.exit(2); }
}
if (!args.url || !args.batch || !args.out) { process.stderr.write('results-poller: --url, --batch and --out are required\n'); process.exit(2); }

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const out = fs.openSync(args.out, 'a');
const cpu0 = process.cpuUsage();
const t0 = Date.now();
let cursor = null, calls = 0, lines = 0, bytes = 0, early = 0, firstLineS = null, failures = 0;

function get(path) {
  return new Promise((resolve, reject) => {
    const req = http.get(args.url + path, { agent, headers: { Authorization: `Bearer ${args.key}` } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function main() {
  for (;;) {
    if (Date.now() - t0 > args.timeoutS * 1000) {
      throw new Error(`not complete after ${args.timeoutS} s (${lines} lines, cursor ${cursor})`);
    }
    let r;
    try {
      r = await get(`/v1/batches/${args.batch}/results` + (cursor ? `?after=${encodeURIComponent(cursor)}` : ''));
    } catch (e) {
      if (++failures > 30) throw e;
      await sleep(args.everyS * 1000);
      continue;
    }
    if (r.status !== 200) {
      throw new Error(`GET results answered ${r.status}: ${r.body.toString().slice(0, 500)}`);
    }
    calls++;
    const got = r.body.length === 0 ? 0 : r.body.toString().split('\n').filter((l) => l.length > 0).length;
    if (got > 0) {
      fs.writeSync(out, r.body);
      lines += got;
      bytes += r.body.length;
      if (firstLineS === null) firstLineS = (Date.now() - t0) / 1000;
    }
    cursor = r.headers['openbatch-cursor'];
    const complete = r.headers['openbatch-complete'] === 'true';
    if (got > 0 && !complete) early++;
    if (complete) break;
    if (r.headers['openbatch-has-more'] !== 'true') await sleep(args.everyS * 1000);
  }
  fs.closeSync(out);
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ calls, lines, bytes, calls_with_lines_before_complete: early, first_line_s: firstLineS,
    seconds: (Date.now() - t0) / 1000, cpu_ms: Math.round((cpu.user + cpu.system) / 1000) }));
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

main().then(() => process.exit(0), (e) => { process.stderr.write(`results-poller: ${e.message}\n`); process.exit(1); });
