// Errors: a failed validation's errors by line of the input file; once the batch has an error
// file, its first failed requests (read from the start of that file, whatever its size).

import { h, fill } from '../dom.js';
import { count } from '../format.js';
import { firstLines } from '../download.js';
import { validationTable } from '../create.js';
import { isLive } from '../progress.js';

const SHOWN = 10;

/** What went wrong with one line of an error file, in a sentence. */
function problem(line) {
  if (line.error) {
    return line.error.message || line.error.code || '';
  }
  const body = line.response && line.response.body;
  if (body && typeof body === 'object' && body.error) {
    return typeof body.error === 'string' ? body.error : (body.error.message || JSON.stringify(body.error));
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text && text.length > 300 ? `${text.slice(0, 300)}…` : (text || '');
}

function failedTable(lines) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'failed-requests' },
      h('caption', {}, 'First failed requests, in input order'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'custom_id'), h('th', { scope: 'col' }, 'Outcome'),
        h('th', { scope: 'col' }, 'Problem'))),
      h('tbody', {}, lines.map((l) => h('tr', {},
        h('td', { class: 'mono' }, l.custom_id || '—'),
        h('td', { class: 'mono' }, l.error ? (l.error.code || 'error') : `HTTP ${l.response ? l.response.status_code : '?'}`),
        h('td', {}, problem(l)))))));
}

export default {
  id: 'errors',
  title: 'Errors',
  create(ctx) {
    const validation = h('div', { id: 'validation-errors' });
    const failed = h('div', { id: 'failed-requests' });
    const summary = h('p', { class: 'muted' });
    let loadedFrom = null;
    let shownValidation = null;

    async function loadFailed(fileId) {
      loadedFrom = fileId;
      fill(failed, h('p', { class: 'muted' }, 'Reading the first failed requests…'));
      try {
        const { lines, more } = await firstLines(ctx, fileId, SHOWN);
        if (lines.length === 0) {
          fill(failed, h('p', { class: 'muted' }, 'The first failed request is too large to show here; download the error file.'));
          return;
        }
        fill(failed, failedTable(lines),
          more ? h('p', { class: 'muted small' }, `The first ${lines.length} are shown; the error file has them all.`) : null);
      } catch (e) {
        loadedFrom = null; // tried again at the next refresh
        fill(failed, h('p', { class: 'error-text' }, `The error file could not be read: ${e.message}`));
      }
    }

    return {
      el: h('div', {}, summary, validation, failed),
      update(batch) {
        const list = (batch.errors && batch.errors.data) || [];
        const key = JSON.stringify(list);
        if (key !== shownValidation) {
          shownValidation = key;
          fill(validation, list.length ? [
            h('p', { class: 'error-text' }, `The input file failed validation with ${count(list.length)} error${list.length === 1 ? '' : 's'}:`),
            validationTable(list)] : null);
        }
        const failedLines = batch.request_counts.failed;
        if (batch.error_file_id && batch.error_file_id !== loadedFrom) {
          loadFailed(batch.error_file_id);
        }
        let text = '';
        if (list.length === 0 && failedLines === 0) {
          text = isLive(batch) ? 'No errors so far.' : 'No errors.';
        } else if (failedLines > 0 && !batch.error_file_id) {
          text = `${count(failedLines)} line${failedLines === 1 ? ' has' : 's have'} failed so far; their errors are written to the error file when the batch ends.`;
        } else if (failedLines > 0) {
          text = `${count(failedLines)} line${failedLines === 1 ? '' : 's'} failed.`;
        }
        fill(summary, text || null);
        summary.hidden = !text;
      },
    };
  },
};
