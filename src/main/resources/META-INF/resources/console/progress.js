// What the console computes from the batches it polls: progress fractions, the rate of lines
// settling now, the time left. Plain functions and one small class, no DOM: a test runs them in
// the browser directly.

export const LIVE = new Set(['validating', 'in_progress', 'finalizing', 'cancelling']);

export function isLive(batch) {
  return LIVE.has(batch.status);
}

/** Lines settled so far and the bar's parts, in whole percent (100 only once every line is settled). */
export function fractions(batch) {
  const c = batch.request_counts || { total: 0, completed: 0, failed: 0 };
  const total = c.total || 0;
  const completed = c.completed || 0;
  const failed = c.failed || 0;
  const done = completed + failed;
  const percent = total > 0 ? Math.floor((done * 100) / total) : 0;
  return {
    total,
    completed,
    failed,
    done,
    remaining: Math.max(0, total - done),
    percent,
    completedShare: total > 0 ? (completed * 100) / total : 0,
    failedShare: total > 0 ? (failed * 100) / total : 0,
  };
}

/**
 * Lines per second "now": the settled lines of each batch as successive polls saw them, over the
 * last `windowMs` (30 s). Until a batch has two samples its rate is unknown (null).
 */
export class Throughput {
  constructor(windowMs = 30000) {
    this.windowMs = windowMs;
    this.samples = new Map();
  }

  /** Records that batch `id` had `done` settled lines at time `atMs` (milliseconds). */
  add(id, atMs, done) {
    let list = this.samples.get(id);
    if (!list) {
      list = [];
      this.samples.set(id, list);
    }
    const last = list[list.length - 1];
    if (last && done < last.done) {
      list.length = 0; // counts went back (the batch was retried): start over
    } else if (last && atMs <= last.t) {
      return;
    }
    list.push({ t: atMs, done });
    // keep the window, plus the last sample before it, so the span covers the whole window
    while (list.length > 2 && list[1].t <= atMs - this.windowMs) {
      list.shift();
    }
  }

  /** Lines per second over the window, or null while there is only one sample. */
  rate(id) {
    const list = this.samples.get(id);
    if (!list || list.length < 2) {
      return null;
    }
    const first = list[0];
    const last = list[list.length - 1];
    const seconds = (last.t - first.t) / 1000;
    return seconds > 0 ? (last.done - first.done) / seconds : null;
  }

  /** Forgets every batch not in `ids` (those no longer on screen). */
  retain(ids) {
    for (const id of [...this.samples.keys()]) {
      if (!ids.has(id)) {
        this.samples.delete(id);
      }
    }
  }
}

/**
 * The rate to show for a batch: the measured one, or before there are two samples the average
 * since it started (`nowSeconds` is the server's clock); null when the batch is not running.
 */
export function rateOf(batch, throughput, nowSeconds) {
  if (batch.status !== 'in_progress') {
    return null;
  }
  const measured = throughput.rate(batch.id);
  if (measured !== null) {
    return measured;
  }
  const started = batch.in_progress_at;
  const { done } = fractions(batch);
  if (!started || nowSeconds - started < 1) {
    return null;
  }
  return done / (nowSeconds - started);
}

/** Seconds until every line is settled at `rate`; null when unknown (no rate, or nothing settling). */
export function etaSeconds(batch, rate) {
  if (batch.status !== 'in_progress' || rate === null || !(rate > 0)) {
    return null;
  }
  return fractions(batch).remaining / rate;
}

/** Seconds before the batch's deadline; null when it has none or is no longer running. */
export function deadlineLeft(batch, nowSeconds) {
  if (!isLive(batch) || batch.expires_at === null || batch.expires_at === undefined) {
    return null;
  }
  return Math.max(0, batch.expires_at - nowSeconds);
}

/** When and how a batch ended: its terminal status's timestamp. */
export function ended(batch) {
  for (const [status, field] of [['completed', 'completed_at'], ['failed', 'failed_at'], ['expired', 'expired_at'], ['cancelled', 'cancelled_at']]) {
    if (batch[field]) {
      return { status, at: batch[field] };
    }
  }
  return null;
}
