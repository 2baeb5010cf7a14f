// A project's quotas as the API's headroom list has them: one row per entry, whatever the quota
// (the rows are shown as they come, so a quota the console does not know yet still shows), with
// its limit, what is used and what remains. For the admin key, a form that sets or removes a
// quota's override.

import { h, fill, setText } from './dom.js';
import { bytes, number } from './format.js';

const NAMES = {
  live_batches: 'Live batches',
  enqueued_lines: 'Enqueued lines',
  enqueued_input_tokens: 'Enqueued input tokens (estimated)',
  file_bytes: 'Stored files',
  uploads_at_once: 'Uploads at once',
  dry_runs_at_once: 'Dry runs at once',
  webhook_endpoints: 'Webhook endpoints',
  results_reads_per_second: 'Results reads per second',
  spend_tokens_per_day: 'Spend cap: tokens per day',
  spend_tokens_per_month: 'Spend cap: tokens per month',
  spend_usd_per_day: 'Spend cap: dollars per day',
  spend_usd_per_month: 'Spend cap: dollars per month',
};

/** A quota's name in words: known ones by name, others from their code ("spend_tokens" reads "Spend tokens"). */
export function quotaName(code) {
  if (NAMES[code]) {
    return NAMES[code];
  }
  const words = String(code || '').replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const SHAPE = ['quota', 'model', 'limit', 'used', 'remaining'];

function amount(code, v) {
  if (v === null || v === undefined) {
    return null;
  }
  if (code === 'file_bytes') {
    return bytes(v);
  }
  return String(code).startsWith('spend_usd') ? `$${Number(v).toFixed(2)}` : number(v);
}

/** The headroom table: `update(rows)` with the `data` of `GET …/quotas`. */
export function quotaTable({ id = 'quotas-table' } = {}) {
  const tbody = h('tbody', {});
  const el = h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': `${id}-caption`, tabindex: '0' },
    h('table', { id },
      h('caption', { id: `${id}-caption` }, 'Each quota with its limit, what the project uses now and what remains before a request is refused.'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Quota'),
        h('th', { scope: 'col' }, 'Model'),
        h('th', { scope: 'col', class: 'num' }, 'Limit'),
        h('th', { scope: 'col', class: 'num' }, 'Used'),
        h('th', { scope: 'col', class: 'num' }, 'Remaining'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Share used')))),
      tbody));
  let shown = null;
  return {
    el,
    update(rows) {
      const json = JSON.stringify(rows);
      if (json === shown) {
        return;
      }
      shown = json;
      fill(tbody, rows.map((r) => {
        const limit = amount(r.quota, r.limit);
        const remaining = amount(r.quota, r.remaining);
        const full = r.limit !== null && r.limit !== undefined && r.remaining !== null && r.remaining !== undefined && r.remaining <= 0;
        const share = r.limit ? Math.min(100, Math.round((Number(r.used) / Number(r.limit)) * 100)) : (r.limit === 0 ? 100 : null);
        // fields beyond the usual five (a period, a unit...) are shown under the name
        const extra = Object.entries(r).filter(([k, v]) => !SHAPE.includes(k) && v !== null && v !== undefined && typeof v !== 'object');
        return h('tr', { 'data-quota': r.quota, 'data-model': r.model || '' },
          h('th', { scope: 'row' }, quotaName(r.quota), h('span', { class: 'sub mono' }, r.quota),
            extra.length ? h('span', { class: 'sub' }, extra.map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v}`).join(' · ')) : null),
          h('td', { class: 'model' }, r.model ? h('span', { class: 'mono' }, r.model) : (r.quota.startsWith('enqueued_') ? 'every model' : '—')),
          h('td', { class: 'num limit' }, limit === null ? 'unlimited' : limit),
          h('td', { class: 'num used' }, amount(r.quota, r.used)),
          h('td', { class: full ? 'num remaining error-text' : 'num remaining' }, remaining === null ? 'unlimited' : remaining,
            full ? h('span', { class: 'sub' }, 'at the limit') : null),
          h('td', { class: 'meter-cell' }, share === null ? null
            : h('div', { class: 'meter', 'aria-hidden': 'true' }, h('span', { class: full ? 'fill full' : 'fill', 'data-share': share }))));
      }));
      // widths from the data attribute (the policy allows no inline style in markup)
      tbody.querySelectorAll('.meter .fill').forEach((f) => {
        f.style.width = `${f.dataset.share}%`;
      });
    },
  };
}

/**
 * The admin's form: pick a quota, type its new limit and set it, or remove the project's override
 * (the configured default applies again). `save(values)` sends `{ quota: limit|null }` and
 * resolves to the headroom after.
 */
export function quotaEditor({ save, saved }) {
  const select = h('select', { id: 'quota-name', name: 'quota' });
  const value = h('input', {
    id: 'quota-limit', name: 'limit', type: 'number', min: '0', step: 'any', inputmode: 'decimal', required: true, 'aria-describedby': 'quota-limit-hint',
  });
  const set = h('button', { type: 'submit', id: 'quota-set' }, 'Set limit');
  const reset = h('button', { type: 'button', class: 'secondary', id: 'quota-reset' }, 'Use the default');
  const message = h('p', { class: 'small', role: 'status', id: 'quota-message' });
  const error = h('p', { class: 'alert', role: 'alert', id: 'quota-error' });
  const form = h('form', { id: 'quota-form', novalidate: true, 'aria-labelledby': 'quota-form-title' },
    h('h3', { id: 'quota-form-title' }, 'Change a quota'),
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'quota-name' }, 'Quota'), select),
      h('div', { class: 'field' }, h('label', { for: 'quota-limit' }, 'New limit'), value,
        h('span', { class: 'hint', id: 'quota-limit-hint' }, 'A whole number, 0 or more (dollars, with cents, for a spend cap in dollars). For this project only.')),
      h('div', { class: 'actions' }, set, reset)),
    error, message);

  async function send(values, done) {
    setText(error, '');
    setText(message, '');
    set.disabled = true;
    reset.disabled = true;
    try {
      const after = await save(values);
      saved(after);
      setText(message, done);
    } catch (e) {
      setText(error, `The quota was not changed: ${e.message}`);
      if (e.param) {
        value.setAttribute('aria-invalid', 'true');
        value.focus();
      }
    } finally {
      set.disabled = false;
      reset.disabled = false;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = value.value.trim();
    // the spend caps in dollars take cents (and finer); every other quota counts whole things
    const dollars = select.value.startsWith('spend_usd');
    if (!(dollars ? /^\d+(\.\d{1,6})?$/ : /^\d+$/).test(text)) {
      setText(error, dollars ? 'Enter an amount in dollars, 0 or more (such as 250 or 12.50).' : 'Enter a whole number, 0 or more.');
      value.setAttribute('aria-invalid', 'true');
      value.focus();
      return;
    }
    value.removeAttribute('aria-invalid');
    const quota = select.value;
    send({ [quota]: Number(text) }, `${quotaName(quota)}: the limit is ${number(Number(text))} for this project.`);
  });
  reset.addEventListener('click', () => {
    value.removeAttribute('aria-invalid');
    const quota = select.value;
    send({ [quota]: null }, `${quotaName(quota)}: the configured default applies again.`);
  });

  return {
    el: form,
    /** The quotas to choose from: each quota of the headroom list once. */
    update(rows) {
      const codes = [...new Set(rows.map((r) => r.quota))];
      const shown = [...select.options].map((o) => o.value);
      if (shown.join() !== codes.join()) {
        const chosen = select.value;
        fill(select, codes.map((c) => h('option', { value: c }, `${quotaName(c)} (${c})`)));
        if (codes.includes(chosen)) {
          select.value = chosen;
        }
      }
    },
  };
}
