// Progress: the bar, the counts, the rate now, the time to finish, tokens, deadline, job.

import { h, setText } from '../dom.js';
import { count, dateTime, duration, rate as rateText } from '../format.js';
import { deadlineLeft, etaSeconds, fractions, isLive, rateOf } from '../progress.js';
import { progressBar } from '../widgets.js';

function fact(label, key) {
  const dd = h('dd', { 'data-fact': key });
  return { el: h('div', {}, h('dt', {}, label), dd), dd };
}

export default {
  id: 'progress',
  title: 'Progress',
  create(ctx) {
    const bar = progressBar({ big: true, label: 'Lines settled' });
    const facts = {
      total: fact('Lines', 'total'),
      completed: fact('Completed', 'completed'),
      failed: fact('Failed', 'failed'),
      remaining: fact('Remaining', 'remaining'),
      rate: fact('Lines per second now', 'rate'),
      eta: fact('Time to finish', 'eta'),
      tokens: fact('Tokens (input / output / total)', 'tokens'),
      deadline: fact('Deadline', 'deadline'),
      job: fact('Job', 'job'),
      model: fact('Model', 'model'),
      endpoint: fact('Endpoint', 'endpoint'),
      window: fact('Completion window', 'window'),
    };
    const el = h('div', {}, bar.el, h('dl', { class: 'facts' }, Object.values(facts).map((f) => f.el)));
    let shown = null;
    const stopNames = ctx.jobs.onName((jobId) => {
      if (shown && shown.job_id === jobId) {
        setText(facts.job.dd, ctx.jobs.name(jobId));
      }
    });
    return {
      el,
      update(batch, now) {
        shown = batch;
        const f = fractions(batch);
        bar.update(batch);
        setText(facts.total.dd, count(f.total));
        setText(facts.completed.dd, count(f.completed));
        setText(facts.failed.dd, count(f.failed));
        setText(facts.remaining.dd, count(f.remaining));
        const r = rateOf(batch, ctx.throughput, now);
        setText(facts.rate.dd, rateText(r));
        const eta = etaSeconds(batch, r);
        setText(facts.eta.dd, batch.status === 'finalizing' ? 'writing the output files' : duration(eta));
        const u = batch.usage || { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
        setText(facts.tokens.dd, `${count(u.input_tokens)} / ${count(u.output_tokens)} / ${count(u.total_tokens)}`);
        const left = deadlineLeft(batch, now);
        setText(facts.deadline.dd, batch.expires_at
          ? `${dateTime(batch.expires_at)}${left !== null ? ` (in ${duration(left)})` : ''}`
          : (isLive(batch) ? 'none (unlimited)' : '—'));
        setText(facts.job.dd, ctx.jobs.name(batch.job_id));
        setText(facts.model.dd, batch.model || '—');
        setText(facts.endpoint.dd, batch.endpoint);
        setText(facts.window.dd, batch.completion_window || '—');
      },
      unmount() {
        stopNames();
      },
    };
  },
};
