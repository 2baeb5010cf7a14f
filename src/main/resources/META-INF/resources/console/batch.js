// A batch's page: its heading, then one panel per section, all updated in place from one request
// every few seconds (so focus, scrolling and open dialogs stay put while the batch runs).

import { ApiError, serverNow } from './api.js';
import { h, setText } from './dom.js';
import { status as statusText } from './format.js';
import { poll, FAST_MS, SLOW_MS } from './poll.js';
import { fractions, isLive } from './progress.js';
import { statusBadge } from './widgets.js';
import actions from './sections/actions.js';
import errors from './sections/errors.js';
import files from './sections/files.js';
import results from './sections/results.js';
import summary from './sections/summary.js';
import timeline from './sections/timeline.js';

/**
 * The page's sections, in order. Each module's default export is
 * `{ id, title, create(ctx, page) -> { el, update(batch, now), unmount?() } }`: `update` gets every
 * batch the page polls, `page.show(batch)` shows a batch an action got back, `page.refresh()` polls
 * at once. A new view of a batch is one more module in this list; a new action is one more entry
 * in `sections/actions.js`.
 */
export const SECTIONS = [summary, actions, timeline, results, errors, files];

export function batchView(ctx, id) {
  const badge = statusBadge();
  const problem = h('p', { class: 'alert', id: 'batch-problem' });
  // why an in_progress batch sends nothing now (its project's spend cap), from the batch's openbatch-paused header
  const paused = h('p', { class: 'alert', id: 'batch-paused', role: 'status', hidden: true });
  const body = h('div', {});
  const el = h('div', { class: 'batch-page', 'data-batch-id': id },
    h('p', {}, h('a', { href: '#/' }, '← All batches')),
    h('h1', { tabindex: '-1' }, 'Batch ', h('span', { class: 'mono' }, id), ' ', badge.el),
    problem,
    paused,
    body);

  let parts = null;
  let latest = null;
  let bucket = null; // progress announced in steps of 10%

  const page = {
    id,
    show(batch) {
      const now = serverNow();
      if (batch.status === 'in_progress') {
        ctx.throughput.add(batch.id, Date.now(), fractions(batch).done);
      }
      if (!parts) {
        parts = SECTIONS.map((s) => {
          const part = s.create(ctx, page);
          body.appendChild(h('section', { class: 'panel', id: `section-${s.id}`, 'aria-labelledby': `section-${s.id}-title` },
            h('h2', { id: `section-${s.id}-title` }, s.title), part.el));
          return part;
        });
      }
      if (latest && latest.status !== batch.status) {
        ctx.announce(`Batch ${id} is ${statusText(batch.status)}.`);
      } else if (batch.status === 'in_progress') {
        const step = Math.floor(fractions(batch).percent / 10) * 10;
        if (bucket !== null && step !== bucket) {
          ctx.announce(`Batch ${id}: ${step}% of its lines settled.`);
        }
        bucket = step;
      }
      latest = batch;
      badge.update(batch);
      parts.forEach((p) => p.update(batch, now));
    },
    refresh() {
      poller.now();
    },
  };

  async function refresh() {
    try {
      const got = await ctx.api.getBatch(id);
      showPause(got.paused);
      page.show(got.batch);
      setText(problem, '');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        poller.stop();
        setText(problem, `There is no batch ${id} in this project.`);
        return;
      }
      if (e.status !== 401) {
        setText(problem, `The batch could not be refreshed: ${e.message}`);
      }
      throw e;
    }
  }

  function showPause(p) {
    paused.hidden = !p;
    setText(paused, p ? `Paused: ${p.message} It goes on by itself at ${new Date(p.resumes_at * 1000).toISOString().replace('.000Z', 'Z')}, `
      + 'or at once when the cap is raised.' : '');
  }

  const poller = poll(refresh, () => (!latest || isLive(latest) ? FAST_MS : SLOW_MS));

  return {
    el,
    unmount() {
      poller.stop();
      (parts || []).forEach((p) => p.unmount && p.unmount());
    },
  };
}
