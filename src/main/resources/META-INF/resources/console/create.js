// Upload a JSONL file and create a batch from it, then follow the batch through validation: a
// file that fails it shows its errors by line, right under the form.

import { h, fill, setText, uid } from './dom.js';
import { bytes, count } from './format.js';

const ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings', '/v1/completions', '/v1/responses'];

/** An Idempotency-Key for one submission (crypto.randomUUID needs a secure context; this does not). */
function idempotencyKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The form. `created(batch)` is called once the batch exists; the list then calls `check(batches)`
 * with every page it polls, and the form reports validation's outcome when its batch leaves
 * `validating` (reading the batch itself when it is not on the page).
 */
export function createForm(ctx, { created }) {
  const fileId = uid('file');
  const endpointId = uid('endpoint');
  const windowId = uid('window');
  const jobId = uid('job');

  const file = h('input', { id: fileId, name: 'file', type: 'file', accept: '.jsonl,.json,.txt,application/jsonl,application/x-ndjson,text/plain', required: true });
  const endpoint = h('select', { id: endpointId, name: 'endpoint' }, ENDPOINTS.map((e) => h('option', { value: e }, e)));
  const window = h('input', {
    id: windowId, name: 'completion_window', type: 'text', placeholder: "the job's (24h)", autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `${windowId}-hint`,
  });
  const job = h('select', { id: jobId, name: 'job' }, h('option', { value: '' }, "The project's default job"));
  const submit = h('button', { type: 'submit', id: 'create-batch' }, 'Upload and create batch');
  const status = h('p', { class: 'muted', role: 'status', id: 'create-status' });
  const errors = h('div', { class: 'alert', role: 'alert', id: 'create-errors' });
  const fields = { file, input_file_id: file, endpoint, completion_window: window, job_id: job };

  const form = h('form', { id: 'create-form', novalidate: true, 'aria-labelledby': 'create-title' },
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: fileId }, 'Input file (JSONL)'), file),
      h('div', { class: 'field' }, h('label', { for: endpointId }, 'Endpoint'), endpoint),
      h('div', { class: 'field' },
        h('label', { for: windowId }, 'Completion window'), window,
        h('span', { id: `${windowId}-hint`, class: 'hint' }, '24h, unlimited, or a number with m, h or d')),
      h('div', { class: 'field' }, h('label', { for: jobId }, 'Job'), job)),
    h('div', { class: 'actions' }, submit),
    status,
    errors);

  const el = h('section', { class: 'panel', 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'Create a batch'), form);

  let pending = null; // the batch created last, until it leaves validating

  ctx.api.listJobs().then((page) => {
    for (const j of page.data) {
      ctx.jobs.remember(j);
      job.appendChild(h('option', { value: j.id }, j.model ? `${j.name} (${j.model})` : j.name));
    }
  }).catch(() => {
    // the default job still works; the list shows the failure of its own requests
  });

  // preselect the endpoint the file's first line names
  file.addEventListener('change', async () => {
    clearInvalid();
    const f = file.files[0];
    if (!f) {
      return;
    }
    try {
      const head = await f.slice(0, 65536).text();
      const first = head.split('\n').find((l) => l.trim() !== '');
      const url = first ? JSON.parse(first).url : null;
      if (ENDPOINTS.includes(url)) {
        endpoint.value = url;
      }
    } catch (e) {
      // not JSON: validation will say where
    }
  });

  function clearInvalid() {
    for (const f of Object.values(fields)) {
      f.removeAttribute('aria-invalid');
    }
  }

  function fail(message, param) {
    fill(errors, h('p', {}, param ? `${param}: ${message}` : message));
    const field = fields[param];
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearInvalid();
    fill(errors);
    const chosen = file.files[0];
    if (!chosen) {
      fail('Choose a JSONL file of requests to upload.', 'file');
      return;
    }
    submit.disabled = true;
    try {
      setText(status, `Uploading ${chosen.name} (${bytes(chosen.size)})…`);
      const uploaded = await ctx.api.uploadFile(chosen);
      setText(status, `Uploaded as ${uploaded.id}. Creating the batch…`);
      const body = { input_file_id: uploaded.id, endpoint: endpoint.value };
      if (window.value.trim()) {
        body.completion_window = window.value.trim();
      }
      if (job.value) {
        body.job_id = job.value;
      }
      const batch = await ctx.api.createBatch(body, idempotencyKey());
      pending = batch.id;
      fill(status, 'Batch ', link(batch.id), ' created; checking its lines…');
      created(batch);
    } catch (e) {
      setText(status, '');
      fail(e.message, e.param);
    } finally {
      submit.disabled = false;
    }
  });

  function link(id) {
    return h('a', { href: `#/batches/${encodeURIComponent(id)}`, class: 'mono' }, id);
  }

  function settle(batch) {
    pending = null;
    if (batch.status === 'failed') {
      const list = (batch.errors && batch.errors.data) || [];
      setText(status, '');
      fill(errors,
        h('p', {}, 'Batch ', link(batch.id), ` failed validation with ${count(list.length)} error${list.length === 1 ? '' : 's'}. Fix the file and upload it again.`),
        validationTable(list));
      file.setAttribute('aria-invalid', 'true');
      return;
    }
    form.reset();
    fill(status, h('span', { class: 'ok-text' }, 'Batch '), link(batch.id),
      h('span', { class: 'ok-text' }, ` is ${batch.status.replace('_', ' ')}: ${count(batch.request_counts.total)} lines.`));
    ctx.announce(`Batch ${batch.id} is ${batch.status.replace('_', ' ')}.`);
  }

  return {
    el,
    pending: () => pending !== null,
    /** Called with each polled page of batches. */
    async check(batches) {
      if (!pending) {
        return;
      }
      let batch = batches.find((b) => b.id === pending);
      if (!batch) {
        try {
          batch = (await ctx.api.getBatch(pending)).batch;
        } catch (e) {
          return;
        }
      }
      if (batch.status !== 'validating') {
        settle(batch);
      }
    },
  };
}

/** Validation errors as a table: line, field, code, problem. */
export function validationTable(list) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'validation-errors' },
      h('caption', {}, 'Validation errors, by line of the input file'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Line'), h('th', { scope: 'col' }, 'Field'),
        h('th', { scope: 'col' }, 'Code'), h('th', { scope: 'col' }, 'Problem'))),
      h('tbody', {}, list.map((e) => h('tr', {},
        h('td', { class: 'num' }, e.line === null || e.line === undefined ? '—' : String(e.line)),
        h('td', { class: 'mono' }, e.param || '—'),
        h('td', { class: 'mono' }, e.code || '—'),
        h('td', {}, e.message || ''))))));
}
