// The list of the project's batches, newest first, one page of 25 at a time, updated in place by
// one request every few seconds (rows are kept, so keyboard focus and scrolling stay put).

import { serverNow } from './api.js';
import { createForm } from './create.js';
import { h, setText } from './dom.js';
import { count, dateTime, duration, rate as rateText, status as statusText } from './format.js';
import { poll, FAST_MS, SLOW_MS } from './poll.js';
import { deadlineLeft, etaSeconds, fractions, isLive, rateOf } from './progress.js';
import { progressBar, statusBadge } from './widgets.js';

const PAGE = 25;

function row(ctx, id) {
  const link = h('a', { href: `#/batches/${encodeURIComponent(id)}`, class: 'mono batch-link' }, id);
  const created = h('span', { class: 'sub' });
  const badge = statusBadge();
  const bar = progressBar({ label: `Progress of ${id}` });
  const rate = h('td', { class: 'num rate' });
  const eta = h('td', { class: 'num eta' });
  const tokens = h('td', { class: 'num tokens' });
  const deadline = h('td', { class: 'num deadline' });
  const job = h('td', { class: 'job' });
  const tr = h('tr', { 'data-batch-id': id },
    h('th', { scope: 'row' }, link, created),
    h('td', {}, badge.el),
    h('td', { class: 'progress-cell' }, bar.el),
    rate, eta, tokens, deadline, job);
  let shown = null;
  return {
    tr,
    update(batch, now) {
      shown = batch;
      setText(created, `${dateTime(batch.created_at)}${batch.model ? ` · ${batch.model}` : ''}`);
      badge.update(batch);
      bar.update(batch);
      const r = rateOf(batch, ctx.throughput, now);
      setText(rate, rateText(r));
      const e = etaSeconds(batch, r);
      setText(eta, batch.status === 'finalizing' ? 'writing files' : duration(e));
      setText(tokens, count(batch.usage ? batch.usage.total_tokens : 0));
      const left = deadlineLeft(batch, now);
      setText(deadline, left === null ? (isLive(batch) ? 'none' : '—') : duration(left));
      setText(job, ctx.jobs.name(batch.job_id));
    },
    /** A job's name arrived. */
    jobNamed(jobId) {
      if (shown && shown.job_id === jobId) {
        setText(job, ctx.jobs.name(jobId));
      }
    },
  };
}

export function listView(ctx) {
  const form = createForm(ctx, {
    created() {
      cursors = [null]; // the new batch is on the first page
      poller.now();
    },
  });
  const updated = h('p', { class: 'muted small', id: 'list-updated' });
  const problem = h('p', { class: 'alert', id: 'list-problem' });
  const tbody = h('tbody', {});
  const empty = h('p', { class: 'muted', id: 'list-empty', hidden: true },
    'No batches yet. Create one above, or with any OpenAI SDK pointed at this service.');
  const newer = h('button', { type: 'button', class: 'secondary', id: 'newer' }, 'Newer');
  const older = h('button', { type: 'button', class: 'secondary', id: 'older' }, 'Older');
  const pageLabel = h('span', { class: 'muted small', id: 'page-label' });
  const table = h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': 'batches-title', tabindex: '0' },
    h('table', { id: 'batches' },
      h('caption', {}, 'Newest first. The figures update by themselves every few seconds while batches run.'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Batch'),
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Progress'),
        h('th', { scope: 'col', class: 'num' }, 'Lines/s'),
        h('th', { scope: 'col', class: 'num' }, 'Time to finish'),
        h('th', { scope: 'col', class: 'num' }, 'Tokens'),
        h('th', { scope: 'col', class: 'num' }, 'Deadline in'),
        h('th', { scope: 'col' }, 'Job'))),
      tbody));

  const el = h('div', {},
    h('h1', { tabindex: '-1' }, 'Batches'),
    form.el,
    h('section', { class: 'panel', 'aria-labelledby': 'batches-title' },
      h('h2', { id: 'batches-title' }, 'Your batches'),
      updated, problem, table, empty,
      h('nav', { class: 'pager', 'aria-label': 'Pages of batches' }, newer, pageLabel, older)));

  const rows = new Map();
  const seen = new Map(); // id -> status last shown, to announce changes
  let cursors = [null]; // the `after` of each page up to the one shown
  let last = null;
  let anyLive = false;

  function render(page) {
    const now = serverNow();
    const t = Date.now();
    const ids = page.data.map((b) => b.id);
    for (const b of page.data) {
      if (b.status === 'in_progress') {
        ctx.throughput.add(b.id, t, fractions(b).done);
      }
      let r = rows.get(b.id);
      if (!r) {
        r = row(ctx, b.id);
        rows.set(b.id, r);
      }
      r.update(b, now);
      const before = seen.get(b.id);
      if (before && before !== b.status) {
        ctx.announce(`Batch ${b.id} is ${statusText(b.status)}.`);
      }
      seen.set(b.id, b.status);
    }
    for (const id of [...rows.keys()]) {
      if (!ids.includes(id)) {
        rows.delete(id);
      }
    }
    ctx.throughput.retain(new Set(ids));
    // reorder only when the order changed, and give focus back if a moved row held it
    const shown = [...tbody.children].map((tr) => tr.dataset.batchId);
    if (shown.join() !== ids.join()) {
      const focused = document.activeElement;
      tbody.replaceChildren(...ids.map((id) => rows.get(id).tr));
      if (focused && focused !== document.activeElement && tbody.contains(focused)) {
        focused.focus();
      }
    }
    empty.hidden = !(page.data.length === 0 && cursors.length === 1);
    newer.disabled = cursors.length === 1;
    older.disabled = !page.has_more;
    setText(pageLabel, `Page ${cursors.length}`);
    anyLive = page.data.some(isLive);
  }

  async function refresh() {
    try {
      const page = await ctx.api.listBatches({ after: cursors[cursors.length - 1], limit: PAGE });
      last = page;
      render(page);
      setText(problem, '');
      setText(updated, `updated ${dateTime(Date.now() / 1000).slice(11)}`);
      await form.check(page.data);
    } catch (e) {
      if (e.status !== 401) {
        setText(problem, `The list could not be refreshed: ${e.message}`);
      }
      throw e;
    }
  }

  newer.addEventListener('click', () => {
    if (cursors.length > 1) {
      cursors.pop();
      poller.now();
    }
  });
  older.addEventListener('click', () => {
    if (last && last.has_more) {
      cursors.push(last.last_id);
      poller.now();
    }
  });

  const poller = poll(refresh, () => (anyLive || form.pending() ? FAST_MS : SLOW_MS));
  const stopNames = ctx.jobs.onName((jobId) => rows.forEach((r) => r.jobNamed(jobId)));

  return {
    el,
    unmount() {
      poller.stop();
      stopNames();
    },
  };
}
