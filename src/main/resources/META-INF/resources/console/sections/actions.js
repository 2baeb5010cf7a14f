// Actions on a batch. Each entry of ACTIONS is
// `{ id, label, danger?, opens?, available(batch), confirm?(batch) -> dialog text, run(ctx, batch) -> Promise<batch> }`:
// its button shows while `available` holds; with `confirm`, a dialog asks first; the batch `run`
// returns is shown at once (then polling goes on), or, with `opens`, is a new batch whose page opens.

import { h, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { count, status as statusText } from '../format.js';

const cancel = {
  id: 'cancel',
  label: 'Cancel batch',
  danger: true,
  available: (batch) => batch.status === 'validating' || batch.status === 'in_progress',
  confirm: (batch) => ({
    title: `Cancel batch ${batch.id}?`,
    text: 'No new line of it will be sent; lines in flight are stopped. Results written so far are kept, '
      + 'and the output and error files are written. This cannot be undone.',
    confirm: 'Cancel batch',
    keep: 'Keep it running',
  }),
  run: (ctx, batch) => ctx.api.cancelBatch(batch.id),
};

const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

const retry = {
  id: 'retry',
  label: 'Retry failed lines',
  opens: true,
  available: (batch) => TERMINAL.includes(batch.status) && batch.request_counts.failed > 0,
  confirm: (batch) => ({
    title: `Retry the failed lines of batch ${batch.id}?`,
    text: `A new batch is created with its ${count(batch.request_counts.failed)} failed, expired and cancelled `
      + 'lines (the same custom_id and bodies), and starts at once. This batch and its files are not changed.',
    confirm: 'Retry failed lines',
    keep: 'Do not retry',
    danger: false,
  }),
  run: (ctx, batch) => ctx.api.retryBatch(batch.id),
};

/** The actions a batch's page offers, in order. */
export const ACTIONS = [cancel, retry];

export default {
  id: 'actions',
  title: 'Actions',
  create(ctx, page) {
    const message = h('p', { class: 'small', role: 'status', tabindex: '-1', id: 'action-message' });
    const none = h('p', { class: 'muted' }, 'Nothing to do: the batch has ended.');
    let latest = null;
    const buttons = ACTIONS.map((action) => {
      const button = h('button', { type: 'button', class: action.danger ? 'danger' : '', id: `action-${action.id}` }, action.label);
      button.addEventListener('click', async () => {
        setText(message, '');
        const target = latest;
        if (action.confirm && !(await confirmDialog(action.confirm(target)))) {
          return;
        }
        button.disabled = true;
        try {
          const batch = await action.run(ctx, target);
          if (action.opens) {
            ctx.announce(`Batch ${batch.id} is created; its page is open.`);
            location.hash = `#/batches/${encodeURIComponent(batch.id)}`;
            return;
          }
          page.show(batch);
          setText(message, `Done: the batch is ${statusText(batch.status)}.`);
          message.focus(); // the button may be gone now
        } catch (e) {
          setText(message, `${action.label} failed: ${e.message}`);
        } finally {
          button.disabled = false;
          page.refresh();
        }
      });
      return { action, button };
    });
    return {
      el: h('div', {}, h('div', { class: 'actions' }, buttons.map((b) => b.button), none), message),
      update(batch) {
        latest = batch;
        let any = false;
        for (const { action, button } of buttons) {
          const on = action.available(batch);
          button.hidden = !on;
          any = any || on;
        }
        none.hidden = any;
        none.textContent = batch.status === 'finalizing' || batch.status === 'cancelling'
          ? 'Nothing to do: the batch is ending.' : 'Nothing to do: the batch has ended.';
      },
    };
  },
};
