// A bar chart drawn as inline SVG, one bar per day, its parts stacked (input and output tokens,
// say). No library: a few rectangles and labels. Colour is never the only cue: every bar has a
// title with its figures, the chart a text summary, and the page a table of the same figures.

import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attributes = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return el;
}

/** The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `v` (the top of the axis). */
export function niceCeil(v) {
  if (!(v > 0)) {
    return 1;
  }
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= v * (1 - 1e-12)) {
      return step * power;
    }
  }
  return 10 * power;
}

const WIDTH = 720;
const HEIGHT = 220;
const LEFT = 76;
const RIGHT = 8;
const TOP = 12;
const BOTTOM = 28;

/**
 * An SVG bar chart. `bars` is `[{ key, label, parts: [number, …] }]` in order (`label` under the
 * bar, every few bars); `series` names the parts, `[{ name, cls }]` (`cls` colours them, in
 * console.css); `format` writes a value; `summary` is the chart's text alternative. Each bar is a
 * `<g class="bar-day" data-day data-total>` with a `<title>`.
 */
export function barChart({ id, summary, bars, series, format }) {
  const totals = bars.map((b) => b.parts.reduce((a, v) => a + (v || 0), 0));
  const top = niceCeil(Math.max(0, ...totals));
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const slot = plotW / Math.max(1, bars.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v) => TOP + plotH - (v / top) * plotH;

  const titleId = `${id}-title`;
  const chart = svg('svg', {
    id, class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': titleId, preserveAspectRatio: 'xMidYMid meet',
  }, svg('title', { id: titleId }, summary));

  // the axis: 0, half and the top, with grid lines
  for (const v of [0, top / 2, top]) {
    chart.appendChild(svg('line', { class: v === 0 ? 'axis' : 'grid', x1: LEFT, x2: WIDTH - RIGHT, y1: y(v), y2: y(v) }));
    chart.appendChild(svg('text', { class: 'tick', x: LEFT - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
  }
  const every = Math.max(1, Math.ceil(bars.length / 8));
  bars.forEach((bar, i) => {
    const x = LEFT + i * slot + (slot - barW) / 2;
    const g = svg('g', { class: 'bar-day', 'data-day': bar.key, 'data-total': totals[i] },
      svg('title', {}, `${bar.key}: ${bar.parts.map((v, k) => `${format(v || 0)} ${series[k].name}`).join(', ')}`));
    let base = 0;
    bar.parts.forEach((v, k) => {
      if (v > 0) {
        g.appendChild(svg('rect', {
          class: series[k].cls, x: x.toFixed(2), y: y(base + v).toFixed(2), width: barW.toFixed(2), height: (y(base) - y(base + v)).toFixed(2),
          'data-value': v,
        }));
      }
      base += v || 0;
    });
    chart.appendChild(g);
    if ((bars.length - 1 - i) % every === 0) {
      chart.appendChild(svg('text', { class: 'tick', x: (x + barW / 2).toFixed(2), y: HEIGHT - 8, 'text-anchor': 'middle' }, bar.label));
    }
  });
  return chart;
}

/** A legend for a chart's series: a swatch and the name of each. */
export function legend(series) {
  return h('ul', { class: 'legend' }, series.map((s) => h('li', {},
    h('span', { class: `swatch ${s.cls}`, 'aria-hidden': 'true' }), s.name)));
}
