// Elements are built with this helper, never from HTML strings: whatever the API returns (ids,
// file names, upstream error messages) is set as text, so it can never become markup or script.

/**
 * h('tag', attributes, ...children). Attributes: `class`, `text`, `hidden`/`disabled`/... (booleans),
 * `on<event>` (a listener), anything else is set with setAttribute. Children: nodes, strings,
 * numbers, arrays of them; null, undefined and false are left out.
 */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'text') {
      el.textContent = value;
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    if (Array.isArray(child)) {
      append(el, child);
    } else if (child instanceof Node) {
      el.appendChild(child);
    } else {
      el.appendChild(document.createTextNode(String(child)));
    }
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Sets text only when it changed (so screen readers and selection are not disturbed by rewrites of the same text). */
export function setText(el, text) {
  const value = text === null || text === undefined ? '' : String(text);
  if (el.textContent !== value) {
    el.textContent = value;
  }
}

let ids = 0;

/** A fresh element id, for label/aria references. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}
