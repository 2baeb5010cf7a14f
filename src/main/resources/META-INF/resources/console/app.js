// The console's entry point: asks for a key, then routes between the list of batches (#/) and a
// batch's page (#/batches/<id>). Only ids go in the URL, never the key.

import { api, session } from './api.js';
import { batchView } from './batch.js';
import { setText } from './dom.js';
import { keyView } from './key.js';
import { listView } from './list.js';
import { Throughput } from './progress.js';
import { Jobs } from './widgets.js';

const main = document.getElementById('main');
const announcer = document.getElementById('announcer');

const ctx = {
  api,
  /** Shared by the views, so that rates survive going from the list to a batch and back. */
  throughput: new Throughput(),
  jobs: new Jobs(api),
  /** Says something to screen readers (a polite live region), without moving focus. */
  announce(message) {
    setText(announcer, '');
    // a fresh text node in a later task, so that the same message twice is read twice
    setTimeout(() => setText(announcer, message), 50);
  },
  signedIn() {
    showSession();
    if (!location.hash) {
      history.replaceState(null, '', '#/'); // no hashchange event
    }
    route(true);
  },
};

let current = null;
let currentKind = null;

function mount(view, kind, focus) {
  if (current) {
    current.unmount();
  }
  current = view;
  currentKind = kind;
  main.replaceChildren(view.el);
  if (focus) {
    if (view.focus) {
      view.focus();
    } else {
      const heading = main.querySelector('h1');
      if (heading) {
        heading.focus();
      } else {
        main.focus();
      }
    }
  }
}

function showKeyForm(reason) {
  hideSession();
  mount(keyView(ctx, reason), 'key', true);
}

function route(focus) {
  if (!session.key()) {
    showKeyForm();
    return;
  }
  const match = /^#\/batches\/([^/?#]+)$/.exec(location.hash);
  if (match) {
    mount(batchView(ctx, decodeURIComponent(match[1])), 'batch', focus);
  } else {
    mount(listView(ctx), 'list', focus);
  }
  document.title = match ? `${decodeURIComponent(match[1])} · openbatch` : 'Batches · openbatch';
}

function showSession() {
  const key = session.key() || '';
  setText(document.getElementById('session-key'), `Key …${key.slice(-4)}`);
  document.getElementById('session').hidden = false;
}

function hideSession() {
  document.getElementById('session').hidden = true;
  document.title = 'openbatch console';
}

document.getElementById('forget-key').addEventListener('click', () => {
  session.clear();
  showKeyForm();
  ctx.announce('The key is forgotten.');
});

window.addEventListener('hashchange', () => {
  if (currentKind !== 'key') {
    route(true);
  }
});

// a key refused later (rotated, removed): back to the key form, with the reason
window.addEventListener('openbatch:unauthorized', () => {
  if (currentKind !== 'key') {
    session.clear();
    showKeyForm('The service no longer accepts this key. Enter a valid one.');
  }
});

if (session.key()) {
  showSession();
}
route(false);
