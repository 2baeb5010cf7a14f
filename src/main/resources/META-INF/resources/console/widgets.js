// Small pieces shared by the list and the batch page; each is created once and updated in place.

import { h, setText } from './dom.js';
import { count, status as statusText } from './format.js';
import { fractions } from './progress.js';

/**
 * A progress bar of completed (green) and failed (red) lines out of the total, with role
 * progressbar (value = percent settled) and a text reading like "28 of 40 lines settled: 26
 * completed, 2 failed".
 */
export function progressBar({ big = false, label = 'Progress' } = {}) {
  const done = h('span', { class: 'done' });
  const fail = h('span', { class: 'fail' });
  const bar = h('div', {
    class: big ? 'bar big' : 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'aria-label': label,
  }, done, fail);
  const text = h('div', { class: 'progress-text' });
  const el = h('div', { class: 'progress' }, bar, text);
  return {
    el,
    update(batch) {
      const f = fractions(batch);
      done.style.width = `${f.completedShare}%`;
      fail.style.width = `${f.failedShare}%`;
      bar.setAttribute('aria-valuenow', String(f.percent));
      bar.dataset.percent = String(f.percent);
      const words = f.total === 0
        ? (batch.status === 'validating' ? 'validating the input file' : 'no lines')
        : `${count(f.done)} of ${count(f.total)} lines settled (${f.percent}%): ${count(f.completed)} completed, ${count(f.failed)} failed`;
      bar.setAttribute('aria-valuetext', words);
      setText(text, f.total === 0 ? words
        : `${count(f.done)} / ${count(f.total)} · ${f.percent}%${f.failed > 0 ? ` · ${count(f.failed)} failed` : ''}`);
    },
  };
}

/** The status as a coloured badge with its name in words (colour is never the only cue). */
export function statusBadge() {
  const el = h('span', { class: 'badge' });
  return {
    el,
    update(batch) {
      el.className = `badge ${batch.status}`;
      el.dataset.status = batch.status;
      setText(el, statusText(batch.status));
    },
  };
}

/**
 * Job names, looked up once per job id (a batch names its job by id). `onName` is called when a
 * name arrives, so that views can show it.
 */
export class Jobs {
  constructor(api) {
    this.api = api;
    this.names = new Map();
    this.pending = new Map();
    this.listeners = new Set();
  }

  remember(job) {
    this.names.set(job.id, job.name || job.id);
  }

  name(id) {
    if (!id) {
      return '—';
    }
    if (this.names.has(id)) {
      return this.names.get(id);
    }
    if (!this.pending.has(id)) {
      this.pending.set(id, this.api.getJob(id).then((job) => {
        this.remember(job);
        this.listeners.forEach((fn) => fn(id));
      }).catch(() => {
        this.names.set(id, id);
      }));
    }
    return id;
  }

  onName(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
