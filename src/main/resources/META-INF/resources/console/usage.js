// Usage: tokens and cost per UTC day over the last 30 days, as charts and as a table, from
// GET /v1/organization/usage/batches and /costs; and, on the Usage page of a project's key, its
// quotas with what remains. The admin's project page shows the same panel for one project.

import { serverNow } from './api.js';
import { barChart, legend } from './chart.js';
import { h, fill, setText } from './dom.js';
import { count, dateTime, money, utcDay } from './format.js';
import { poll, SLOW_MS } from './poll.js';
import { quotaTable } from './quotas.js';

export const DAYS = 30;
const DAY = 86400;

/** The query of the last `DAYS` UTC days, today included (one page of daily buckets). */
export function lastDays(now = serverNow()) {
  const today = Math.floor(now / DAY) * DAY;
  return { start: today - (DAYS - 1) * DAY, limit: DAYS, width: '1d' };
}

/** Sums a bucket's results (one per group) into one. */
function sumUsage(results) {
  const s = { requests: 0, succeeded: 0, failed: 0, input: 0, output: 0 };
  for (const r of results) {
    s.requests += r.num_model_requests || 0;
    s.succeeded += r.lines_succeeded || 0;
    s.failed += r.lines_failed || 0;
    s.input += r.input_tokens || 0;
    s.output += r.output_tokens || 0;
  }
  return s;
}

function sumCost(results) {
  return results.reduce((a, r) => a + Number(r.amount && r.amount.value ? r.amount.value : 0), 0);
}

/** Day by day: `[{ start, day, requests, succeeded, failed, input, output, cost }]`, oldest first. */
export function daily(usagePage, costsPage) {
  const costs = new Map(costsPage.data.map((b) => [b.start_time, sumCost(b.results)]));
  return usagePage.data.map((b) => ({ start: b.start_time, day: utcDay(b.start_time), ...sumUsage(b.results), cost: costs.get(b.start_time) || 0 }));
}

function fact(label, key) {
  const dd = h('dd', { 'data-fact': key });
  return { el: h('div', {}, h('dt', {}, label), dd), dd };
}

const TOKEN_SERIES = [{ name: 'input tokens', cls: 'series-input' }, { name: 'output tokens', cls: 'series-output' }];
const COST_SERIES = [{ name: 'cost', cls: 'series-cost' }];

/**
 * The usage of the last 30 days: totals, a chart of tokens per day (input and output stacked), a
 * chart of cost per day, and the same figures in a table. `projectId`: the project to read (the
 * admin key names it; a project's key reads its own whatever it names).
 */
export function usagePanel(ctx, { projectId = null } = {}) {
  const facts = {
    lines: fact('Lines settled', 'lines'),
    failed: fact('of which failed', 'failed'),
    input: fact('Input tokens', 'input'),
    output: fact('Output tokens', 'output'),
    cost: fact('Cost', 'cost'),
  };
  const problem = h('p', { class: 'alert', id: 'usage-problem' });
  const empty = h('p', { class: 'muted', id: 'usage-empty', hidden: true }, 'No line of this project settled in the last 30 days.');
  const tokensChart = h('div', { class: 'chart-wrap', id: 'tokens-chart-wrap' });
  const costChart = h('div', { class: 'chart-wrap', id: 'cost-chart-wrap' });
  const tbody = h('tbody', {});
  const table = h('table', { id: 'usage-table' },
    h('caption', {}, 'Per UTC day, oldest first.'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Day (UTC)'),
      h('th', { scope: 'col', class: 'num' }, 'Lines settled'),
      h('th', { scope: 'col', class: 'num' }, 'Failed'),
      h('th', { scope: 'col', class: 'num' }, 'Input tokens'),
      h('th', { scope: 'col', class: 'num' }, 'Output tokens'),
      h('th', { scope: 'col', class: 'num' }, 'Cost'))),
    tbody);
  const el = h('div', { class: 'usage' },
    problem,
    h('dl', { class: 'facts' }, Object.values(facts).map((f) => f.el)),
    empty,
    h('h3', { id: 'tokens-chart-heading' }, 'Tokens per day'),
    legend(TOKEN_SERIES),
    tokensChart,
    h('h3', { id: 'cost-chart-heading' }, 'Cost per day'),
    legend(COST_SERIES),
    costChart,
    h('details', { id: 'usage-figures' },
      h('summary', {}, 'The figures by day'),
      h('div', { class: 'table-wrap' }, table)));

  let shown = null;

  function render(days) {
    const json = JSON.stringify(days);
    if (json === shown) {
      return; // nothing new: the charts and the table stay as they are
    }
    shown = json;
    const total = days.reduce((a, d) => ({
      requests: a.requests + d.requests, failed: a.failed + d.failed, input: a.input + d.input, output: a.output + d.output, cost: a.cost + d.cost,
    }), { requests: 0, failed: 0, input: 0, output: 0, cost: 0 });
    setText(facts.lines.dd, count(total.requests));
    setText(facts.failed.dd, count(total.failed));
    setText(facts.input.dd, count(total.input));
    setText(facts.output.dd, count(total.output));
    setText(facts.cost.dd, money(total.cost));
    empty.hidden = total.requests > 0;
    const first = days.length ? days[0].day : '';
    const last = days.length ? days[days.length - 1].day : '';
    const busiest = days.reduce((b, d) => (!b || d.input + d.output > b.input + b.output ? d : b), null);
    fill(tokensChart, barChart({
      id: 'tokens-chart',
      summary: `Tokens per UTC day from ${first} to ${last}: ${count(total.input)} input and ${count(total.output)} output in all`
        + (busiest && busiest.input + busiest.output > 0 ? `, the most on ${busiest.day} (${count(busiest.input + busiest.output)}).` : '.'),
      bars: days.map((d) => ({ key: d.day, label: d.day.slice(5), parts: [d.input, d.output] })),
      series: TOKEN_SERIES,
      format: count,
    }));
    fill(costChart, barChart({
      id: 'cost-chart',
      summary: `Cost per UTC day from ${first} to ${last}: ${money(total.cost)} in all.`,
      bars: days.map((d) => ({ key: d.day, label: d.day.slice(5), parts: [d.cost] })),
      series: COST_SERIES,
      format: money,
    }));
    fill(tbody, days.map((d) => h('tr', { 'data-day': d.day },
      h('th', { scope: 'row' }, d.day),
      h('td', { class: 'num lines' }, count(d.requests)),
      h('td', { class: 'num failed' }, count(d.failed)),
      h('td', { class: 'num input' }, count(d.input)),
      h('td', { class: 'num output' }, count(d.output)),
      h('td', { class: 'num cost' }, money(d.cost)))));
  }

  return {
    el,
    async refresh() {
      const q = { ...lastDays(), projectIds: projectId ? [projectId] : [] };
      try {
        const [usage, costs] = [await ctx.api.usage(q), await ctx.api.costs(q)];
        render(daily(usage, costs));
        setText(problem, '');
      } catch (e) {
        if (e.status !== 401) {
          setText(problem, `The usage could not be read: ${e.message}`);
        }
        throw e;
      }
    },
  };
}

/** The Usage page of a project's key (#/usage): its usage, and its quotas with what remains. */
export function usageView(ctx) {
  const project = ctx.identity.project;
  const usage = usagePanel(ctx);
  const quotas = quotaTable();
  const quotaProblem = h('p', { class: 'alert', id: 'quotas-problem' });
  const updated = h('span', { class: 'small', id: 'usage-updated' });
  const el = h('div', { class: 'usage-page' },
    h('h1', { tabindex: '-1' }, 'Usage'),
    h('p', { class: 'muted' }, 'Project ', h('span', { class: 'mono', id: 'usage-project' }, project || 'unknown'), '. ', updated),
    h('section', { class: 'panel', 'aria-labelledby': 'usage-title' },
      h('h2', { id: 'usage-title' }, 'Tokens and cost, last 30 days'),
      usage.el),
    h('section', { class: 'panel', 'aria-labelledby': 'quotas-title' },
      h('h2', { id: 'quotas-title' }, 'Quotas'),
      quotaProblem,
      quotas.el));

  async function refresh() {
    const tasks = [usage.refresh().catch((e) => e)];
    try {
      const headroom = await ctx.api.quotas(project);
      quotas.update(headroom.data);
      setText(quotaProblem, '');
    } catch (e) {
      if (e.status !== 401) {
        setText(quotaProblem, `The quotas could not be read: ${e.message}`);
      }
    }
    await Promise.all(tasks);
    setText(updated, `Updated ${dateTime(Date.now() / 1000).slice(11)}.`);
  }

  const poller = poll(refresh, () => SLOW_MS);
  return {
    el,
    unmount() {
      poller.stop();
    },
  };
}
