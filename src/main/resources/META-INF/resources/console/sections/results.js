// Live results: the lines the batch has settled, read from GET /v1/batches/{id}/results with its
// cursor, one request per refresh of the page (so no faster than the page polls; a reader that is
// behind, `Openbatch-Has-More`, catches up one answer per refresh), until `Openbatch-Complete`.
// The newest lines are shown first, the last SHOWN of them; the count is of every line received.

import { h, fill, setText } from '../dom.js';
import { count } from '../format.js';
import { FAST_MS } from '../poll.js';

/** Rows kept in the table: older ones are dropped as new ones come. */
export const SHOWN = 50;
/** Lines asked for per request. */
const LIMIT = 1000;
const PREVIEW = 120;

function short(text) {
  const one = String(text).replace(/\s+/g, ' ').trim();
  return one.length > PREVIEW ? `${one.slice(0, PREVIEW)}…` : one;
}

/** A line of the output or error file, as the table shows it. */
export function describe(line) {
  const response = line.response || null;
  const code = response ? response.status_code : null;
  const succeeded = !line.error && code !== null && code >= 200 && code < 300;
  const body = response ? response.body : null;
  let preview = '';
  if (line.error) {
    preview = line.error.message || '';
  } else if (body && typeof body === 'object') {
    const choice = Array.isArray(body.choices) && body.choices[0];
    if (!succeeded && body.error) {
      preview = typeof body.error === 'string' ? body.error : (body.error.message || JSON.stringify(body.error));
    } else if (choice && choice.message && typeof choice.message.content === 'string') {
      preview = choice.message.content;
    } else if (choice && typeof choice.text === 'string') {
      preview = choice.text;
    } else if (Array.isArray(body.data) && body.object === 'list') {
      preview = `${count(body.data.length)} embedding${body.data.length === 1 ? '' : 's'}`;
    } else {
      preview = JSON.stringify(body);
    }
  } else if (body !== null && body !== undefined) {
    preview = String(body);
  }
  return {
    customId: line.custom_id || '—',
    succeeded,
    code: line.error ? (line.error.code || 'error') : `HTTP ${code === null ? '?' : code}`,
    preview: short(preview),
  };
}

export default {
  id: 'results',
  title: 'Live results',
  create(ctx, page) {
    const received = h('p', { id: 'results-count', 'aria-live': 'polite' }, 'No line has settled yet.');
    const tbody = h('tbody', {});
    const table = h('div', { class: 'table-wrap' },
      h('table', { class: 'live-results', id: 'results-table' },
        h('caption', {}, `Settled lines, newest first (the last ${SHOWN})`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'custom_id'), h('th', { scope: 'col' }, 'Outcome'),
          h('th', { scope: 'col' }, 'Code'), h('th', { scope: 'col' }, 'Answer'))),
        tbody));
    table.hidden = true;
    const problem = h('p', { class: 'error-text', id: 'results-problem' });
    problem.hidden = true;

    let cursor = null;
    let total = 0;
    let complete = false;
    let busy = false;
    let lastAt = 0;
    const aborter = new AbortController();

    function add(lines) {
      for (const line of lines) {
        const d = describe(line);
        tbody.prepend(h('tr', { 'data-outcome': d.succeeded ? 'succeeded' : 'failed' },
          h('td', { class: 'mono' }, d.customId),
          h('td', {}, d.succeeded ? 'Succeeded' : 'Failed'),
          h('td', { class: 'mono' }, d.code),
          h('td', {}, d.preview)));
      }
      while (tbody.children.length > SHOWN) {
        tbody.lastElementChild.remove();
      }
      total += lines.length;
      table.hidden = total === 0;
    }

    async function read() {
      busy = true;
      lastAt = Date.now();
      try {
        const res = await ctx.api.results(page.id, { after: cursor, limit: LIMIT, signal: aborter.signal });
        const text = await res.text();
        const lines = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
        add(lines);
        cursor = res.headers.get('Openbatch-Cursor') || cursor;
        complete = res.headers.get('Openbatch-Complete') === 'true';
        const more = res.headers.get('Openbatch-Has-More') === 'true';
        if (total > 0) {
          setText(received, `${count(total)} line${total === 1 ? '' : 's'} received${complete ? ', all of them.' : (more ? ', more to read.' : ' so far.')}`);
        } else {
          setText(received, complete ? 'No line was settled.' : 'No line has settled yet.');
        }
        problem.hidden = true;
      } catch (e) {
        if (e.name === 'AbortError') {
          return;
        }
        fill(problem, `The results could not be read: ${e.message}`);
        problem.hidden = false;
      } finally {
        busy = false;
      }
    }

    return {
      el: h('div', {}, received, problem, table),
      update() {
        // also called when an action shows a batch: never more often than the page's fast poll
        if (complete || busy || Date.now() - lastAt < FAST_MS - 200) {
          return;
        }
        read();
      },
      unmount() {
        aborter.abort();
      },
    };
  },
};
