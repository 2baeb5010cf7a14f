// Actions on a batch. Each entry of ACTIONS is
// `{ id, label, available(batch), run(ctx, batch) -> Promise<batch | undefined> }`: its button
// shows while `available` holds, and what `run` returns is shown at once (then polling goes on).

import { h, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { status as statusText } from '../format.js';

const cancel = {
  id: 'cancel',
  label: 'Cancel batch',
  available: (batch) => batch.status === 'validating' || batch.status === 'in_progress',
  async run(ctx, batch) {
    const sure = await confirmDialog({
      title: `Cancel batch ${batch.id}?`,
      text: 'No new line of it will be sent; lines in flight are stopped. Results written so far are kept, '
        + 'and the output and error files are written. This cannot be undone.',
      confirm: 'Cancel batch',
      keep: 'Keep it running',
    });
    return sure ? ctx.api.cancelBatch(batch.id) : undefined;
  },
};

/** The actions a batch's page offers, in order. */
export const ACTIONS = [cancel];

export default {
  id: 'actions',
  title: 'Actions',
  create(ctx, page) {
    const message = h('p', { class: 'small', role: 'status', tabindex: '-1', id: 'action-message' });
    const none = h('p', { class: 'muted' }, 'Nothing to do: the batch has ended.');
    let latest = null;
    const buttons = ACTIONS.map((action) => {
      const button = h('button', { type: 'button', class: 'danger', id: `action-${action.id}` }, action.label);
      button.addEventListener('click', async () => {
        button.disabled = true;
        setText(message, '');
        try {
          const batch = await action.run(ctx, latest);
          if (batch) {
            page.show(batch);
            setText(message, `Done: the batch is ${statusText(batch.status)}.`);
            message.focus(); // the button may be gone now
          }
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
