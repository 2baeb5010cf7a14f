// Timeline: created, in progress, finalizing, (cancelling,) ended, each with its time and how long
// after creation it happened.

import { h, setText } from '../dom.js';
import { dateTime, duration, iso } from '../format.js';
import { ended } from '../progress.js';

const ENDINGS = { completed: 'Completed', failed: 'Failed', expired: 'Expired', cancelled: 'Cancelled' };

function step(key) {
  const name = h('span', { class: 'step' });
  const time = h('time', {});
  const after = h('span', { class: 'sub muted small' });
  const li = h('li', { 'data-step': key }, name, time, after);
  return {
    li,
    show(label, at, createdAt, bad = false) {
      setText(name, label);
      li.className = at ? (bad ? 'reached ended-bad' : 'reached') : '';
      if (at) {
        time.setAttribute('datetime', iso(at));
        setText(time, dateTime(at));
        setText(after, key === 'created' ? '' : `+${duration(at - createdAt)}`);
      } else {
        time.removeAttribute('datetime');
        setText(time, 'not yet');
        setText(after, '');
      }
    },
  };
}

export default {
  id: 'timeline',
  title: 'Timeline',
  create() {
    const steps = {
      created: step('created'),
      in_progress: step('in_progress'),
      finalizing: step('finalizing'),
      cancelling: step('cancelling'),
      ended: step('ended'),
    };
    const list = h('ol', { class: 'timeline' }, Object.values(steps).map((s) => s.li));
    return {
      el: list,
      update(batch) {
        const c = batch.created_at;
        steps.created.show('Created', c, c);
        steps.in_progress.show('In progress', batch.in_progress_at, c);
        steps.finalizing.show('Finalizing', batch.finalizing_at, c);
        steps.cancelling.li.hidden = !batch.cancelling_at;
        steps.cancelling.show('Cancelling', batch.cancelling_at, c);
        const end = ended(batch);
        if (end) {
          steps.ended.show(ENDINGS[end.status], end.at, c, end.status !== 'completed');
        } else {
          steps.ended.show('Ended', null, c);
        }
      },
    };
  },
};
