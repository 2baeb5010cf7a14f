// The console's entry point: asks for a key, then routes. A project's key: the list of batches
// (#/), a batch's page (#/batches/<id>) and the project's usage and quotas (#/usage). The admin
// key: the projects (#/) and a project's page (#/projects/<id>). Only ids go in the URL, never the key.

import { api, identify, session } from './api.js';
import { projectView, projectsView } from './admin.js';
import { batchView } from './batch.js';
import { h, fill, setText } from './dom.js';
import { keyView } from './key.js';
import { listView } from './list.js';
import { Throughput } from './progress.js';
import { usageView } from './usage.js';
import { Jobs } from './widgets.js';

const main = document.getElementById('main');
const announcer = document.getElementById('announcer');

const ctx = {
  api,
  /** What the key is: `{ admin, project }`. */
  get identity() {
    return session.identity();
  },
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

/** The pages in the navigation, for a project's key and for the admin key. */
const PROJECT_PAGES = [{ kind: 'list', href: '#/', label: 'Batches' }, { kind: 'usage', href: '#/usage', label: 'Usage' }];
const ADMIN_PAGES = [{ kind: 'projects', href: '#/', label: 'Projects' }];

function route(focus) {
  if (!session.key()) {
    showKeyForm();
    return;
  }
  const who = session.identity();
  if (!who) {
    // a tab that kept its key from before the console knew keys apart: ask once who it is
    identify().then(() => {
      showSession();
      route(focus);
    }).catch((e) => {
      if (e.status !== 401) { // a 401 brings the key form back by itself; anything else may pass
        showProblem(`The console could not tell what this key is: ${e.message}`);
      }
    });
    return;
  }
  let kind;
  let title;
  if (who.admin) {
    const project = /^#\/projects\/([^/?#]+)$/.exec(location.hash);
    if (project) {
      const id = decodeURIComponent(project[1]);
      kind = 'project';
      title = `${id} · openbatch`;
      mount(projectView(ctx, id), kind, focus);
    } else {
      kind = 'projects';
      title = 'Projects · openbatch';
      mount(projectsView(ctx), kind, focus);
    }
  } else {
    const batch = /^#\/batches\/([^/?#]+)$/.exec(location.hash);
    if (batch) {
      kind = 'batch';
      title = `${decodeURIComponent(batch[1])} · openbatch`;
      mount(batchView(ctx, decodeURIComponent(batch[1])), kind, focus);
    } else if (location.hash === '#/usage') {
      kind = 'usage';
      title = 'Usage · openbatch';
      mount(usageView(ctx), kind, focus);
    } else {
      kind = 'list';
      title = 'Batches · openbatch';
      mount(listView(ctx), kind, focus);
    }
  }
  document.title = title;
  showNav(who, kind);
}

/** A failure that is not the key's: said, with a way to try again (the key is kept). */
function showProblem(message) {
  const retry = h('button', { type: 'button', id: 'try-again' }, 'Try again');
  retry.addEventListener('click', () => route(true));
  mount({
    el: h('div', { class: 'panel key-form' }, h('h1', { tabindex: '-1' }, 'openbatch console'),
      h('p', { class: 'alert', role: 'alert', id: 'console-problem' }, message), h('div', { class: 'actions' }, retry)),
    unmount() {},
  }, 'problem', true);
}

function showNav(who, kind) {
  const nav = document.getElementById('nav');
  const pages = who.admin ? ADMIN_PAGES : PROJECT_PAGES;
  fill(nav, h('ul', {}, pages.map((p) => h('li', {},
    h('a', { href: p.href, id: `nav-${p.kind}`, 'aria-current': p.kind === kind ? 'page' : null }, p.label)))));
  nav.hidden = false;
}

function showSession() {
  const key = session.key() || '';
  const who = session.identity();
  setText(document.getElementById('session-who'), !who ? '' : (who.admin ? 'Admin' : (who.project ? `Project ${who.project}` : '')));
  setText(document.getElementById('session-key'), `Key …${key.slice(-4)}`);
  document.getElementById('session').hidden = false;
}

function hideSession() {
  document.getElementById('session').hidden = true;
  document.getElementById('nav').hidden = true;
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
