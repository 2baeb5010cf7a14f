// The operator's pages, for the admin key: the projects with their usage of the last 30 days
// (#/), and a project's page (#/projects/<id>): rename, archive, its API keys (create, with the
// secret shown once; revoke), its quotas (headroom, overrides) and its usage.

import { ApiError } from './api.js';
import { confirmDialog } from './dialog.js';
import { h, fill, setText } from './dom.js';
import { count, dateTime, money } from './format.js';
import { quotaEditor, quotaTable } from './quotas.js';
import { lastDays, usagePanel } from './usage.js';
import { poll, SLOW_MS } from './poll.js';

function statusBadge(project) {
  return h('span', { class: `badge ${project.status}`, 'data-status': project.status }, project.status);
}

/** Every page of the projects list (100 a page). */
async function allProjects(api, includeArchived) {
  const out = [];
  let after = null;
  for (let i = 0; i < 50; i += 1) {
    const page = await api.listProjects({ after, includeArchived });
    out.push(...page.data);
    if (!page.has_more || page.data.length === 0) {
      break;
    }
    after = page.last_id;
  }
  return out;
}

/** Per project id: `{ requests, tokens, cost }` over the last 30 days. */
async function usageByProject(api) {
  const q = { ...lastDays(), groupBy: ['project_id'] };
  const usage = await api.usage(q);
  const costs = await api.costs(q);
  const out = new Map();
  const of = (id) => {
    if (!out.has(id)) {
      out.set(id, { requests: 0, tokens: 0, cost: 0 });
    }
    return out.get(id);
  };
  for (const b of usage.data) {
    for (const r of b.results) {
      const s = of(r.project_id);
      s.requests += r.num_model_requests || 0;
      s.tokens += (r.input_tokens || 0) + (r.output_tokens || 0);
    }
  }
  for (const b of costs.data) {
    for (const r of b.results) {
      of(r.project_id).cost += Number(r.amount ? r.amount.value : 0);
    }
  }
  return out;
}

/** #/ for the admin key: the projects, a form that creates one. */
export function projectsView(ctx) {
  const name = h('input', { id: 'project-name', name: 'name', type: 'text', required: true, maxlength: '256', autocomplete: 'off' });
  const createButton = h('button', { type: 'submit', id: 'create-project' }, 'Create project');
  const createError = h('p', { class: 'alert', role: 'alert', id: 'create-project-error' });
  const form = h('form', { class: 'panel', id: 'project-form', novalidate: true, 'aria-labelledby': 'project-form-title' },
    h('h2', { id: 'project-form-title' }, 'New project'),
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'project-name' }, 'Name'), name),
      h('div', { class: 'actions' }, createButton)),
    createError);

  const archived = h('input', { type: 'checkbox', id: 'show-archived' });
  const problem = h('p', { class: 'alert', id: 'projects-problem' });
  const updated = h('p', { class: 'muted small', id: 'projects-updated' });
  const empty = h('p', { class: 'muted', id: 'projects-empty', hidden: true }, 'No projects yet. Create one above.');
  const tbody = h('tbody', {});
  const el = h('div', {},
    h('h1', { tabindex: '-1' }, 'Projects'),
    form,
    h('section', { class: 'panel', 'aria-labelledby': 'projects-title' },
      h('h2', { id: 'projects-title' }, 'All projects'),
      h('div', { class: 'check' }, archived, h('label', { for: 'show-archived' }, 'Show archived projects')),
      updated, problem,
      h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': 'projects-title', tabindex: '0' },
        h('table', { id: 'projects' },
          h('caption', {}, 'Oldest first, with what each used in the last 30 days (UTC).'),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Project'),
            h('th', { scope: 'col' }, 'Status'),
            h('th', { scope: 'col' }, 'Created'),
            h('th', { scope: 'col', class: 'num' }, 'Lines, 30 days'),
            h('th', { scope: 'col', class: 'num' }, 'Tokens, 30 days'),
            h('th', { scope: 'col', class: 'num' }, 'Cost, 30 days'))),
          tbody)),
      empty));

  let shown = null;

  async function refresh() {
    try {
      const projects = await allProjects(ctx.api, archived.checked);
      const usage = await usageByProject(ctx.api);
      const none = { requests: 0, tokens: 0, cost: 0 };
      const json = JSON.stringify([projects, [...usage]]);
      if (json !== shown) { // rows are rewritten only when something changed
        shown = json;
        fill(tbody, projects.map((p) => {
        const u = usage.get(p.id) || none;
        return h('tr', { 'data-project-id': p.id },
          h('th', { scope: 'row' }, h('a', { href: `#/projects/${encodeURIComponent(p.id)}`, class: 'project-link' }, p.name),
            h('span', { class: 'sub mono' }, p.id)),
          h('td', {}, statusBadge(p)),
          h('td', { class: 'created' }, dateTime(p.created_at)),
          h('td', { class: 'num lines' }, count(u.requests)),
          h('td', { class: 'num tokens' }, count(u.tokens)),
          h('td', { class: 'num cost' }, money(u.cost)));
        }));
      }
      empty.hidden = projects.length > 0;
      setText(problem, '');
      setText(updated, `updated ${dateTime(Date.now() / 1000).slice(11)}`);
    } catch (e) {
      if (e.status !== 401) {
        setText(problem, `The projects could not be read: ${e.message}`);
      }
      throw e;
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = name.value.trim();
    if (!value) {
      setText(createError, 'Enter the new project\'s name.');
      name.setAttribute('aria-invalid', 'true');
      name.focus();
      return;
    }
    createButton.disabled = true;
    setText(createError, '');
    try {
      const project = await ctx.api.createProject(value);
      name.removeAttribute('aria-invalid');
      ctx.announce(`Project ${project.name} is created; its page is open.`);
      location.hash = `#/projects/${encodeURIComponent(project.id)}`;
    } catch (e) {
      setText(createError, `The project was not created: ${e.message}`);
      name.setAttribute('aria-invalid', 'true');
      name.focus();
    } finally {
      createButton.disabled = false;
    }
  });
  archived.addEventListener('change', () => poller.now());

  const poller = poll(refresh, () => SLOW_MS);
  return {
    el,
    unmount() {
      poller.stop();
    },
  };
}

/** The secret of a new key, shown this once, with a way to copy it and to put it away. */
function secretBox(ctx) {
  const label = h('label', { for: 'new-key-secret' });
  const input = h('input', { id: 'new-key-secret', type: 'text', readonly: true, spellcheck: 'false', autocomplete: 'off', class: 'mono' });
  const copy = h('button', { type: 'button', id: 'copy-secret' }, 'Copy');
  const done = h('button', { type: 'button', class: 'secondary', id: 'hide-secret' }, 'Done');
  const status = h('p', { class: 'small', role: 'status', id: 'copy-status' });
  const el = h('div', { class: 'success secret', id: 'new-key', hidden: true, tabindex: '-1', 'aria-labelledby': 'new-key-title' },
    h('h3', { id: 'new-key-title' }, 'The new key'),
    h('p', {}, 'Copy its secret now: it is shown this once, and the service keeps only its hash. ',
      'Whoever holds it can use this project.'),
    h('div', { class: 'field' }, label, h('div', { class: 'actions' }, input, copy, done)),
    status);

  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      setText(status, 'Copied to the clipboard.');
    } catch (e) {
      input.focus();
      input.select();
      // the older way, for a page the browser does not let write to the clipboard
      const ok = document.execCommand && document.execCommand('copy');
      setText(status, ok ? 'Copied to the clipboard.' : 'The browser did not let the page copy: the secret is selected, press Ctrl+C.');
    }
  });
  done.addEventListener('click', () => {
    hide();
    ctx.announce('The secret is hidden; it cannot be shown again.');
  });

  function hide() {
    input.value = '';
    setText(status, '');
    el.hidden = true;
  }

  return {
    el,
    show(key) {
      setText(label, `Secret of key ${key.name}`);
      input.value = key.value;
      setText(status, '');
      el.hidden = false;
      input.focus();
      input.select();
    },
    hide,
  };
}

/** #/projects/<id> for the admin key. */
export function projectView(ctx, id) {
  const heading = h('h1', { tabindex: '-1' }, 'Project ', h('span', { id: 'project-title' }, id));
  const badge = h('span', { class: 'badge' }); // updated in place
  const problem = h('p', { class: 'alert', id: 'project-problem' });
  const body = h('div', { hidden: true });
  const el = h('div', { class: 'project-page', 'data-project-id': id },
    h('p', {}, h('a', { href: '#/' }, '← All projects')),
    heading,
    h('p', { class: 'muted' }, h('span', { class: 'mono' }, id), ' ', badge),
    problem,
    body);
  let project = null;
  let shownName = '';

  // ---- name and status ----
  const rename = h('input', { id: 'rename-name', name: 'name', type: 'text', required: true, maxlength: '256', autocomplete: 'off' });
  const renameButton = h('button', { type: 'submit', id: 'rename-project' }, 'Rename');
  const archive = h('button', { type: 'button', class: 'danger', id: 'archive-project' }, 'Archive project');
  const archivedNote = h('p', { class: 'muted', id: 'archived-note', hidden: true });
  const projectMessage = h('p', { class: 'small', role: 'status', id: 'project-message' });
  const renameForm = h('form', { id: 'rename-form', novalidate: true, 'aria-label': 'Rename the project' },
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'rename-name' }, 'Name'), rename),
      h('div', { class: 'actions' }, renameButton, archive)));

  // ---- keys ----
  const keyName = h('input', { id: 'key-name', name: 'name', type: 'text', required: true, maxlength: '256', autocomplete: 'off' });
  const createKey = h('button', { type: 'submit', id: 'create-key' }, 'Create key');
  const keyError = h('p', { class: 'alert', role: 'alert', id: 'key-error' });
  const keyForm = h('form', { id: 'key-form', novalidate: true, 'aria-label': 'Create a key' },
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'key-name' }, 'Key name'), keyName,
        h('span', { class: 'hint' }, 'Who or what will use it, say "nightly-embeddings".')),
      h('div', { class: 'actions' }, createKey)));
  const secret = secretBox(ctx);
  const keysMessage = h('p', { class: 'small', role: 'status', id: 'keys-message' });
  const keysBody = h('tbody', {});
  const keysEmpty = h('p', { class: 'muted', id: 'keys-empty', hidden: true }, 'This project has no key.');

  // ---- quotas, usage ----
  const quotas = quotaTable();
  const quotaProblem = h('p', { class: 'alert', id: 'quotas-problem' });
  const editor = quotaEditor({ save: (values) => ctx.api.setQuotas(id, values), saved: (after) => showQuotas(after.data) });
  const usage = usagePanel(ctx, { projectId: id });

  fill(body,
    h('section', { class: 'panel', id: 'section-project', 'aria-labelledby': 'section-project-title' },
      h('h2', { id: 'section-project-title' }, 'Name and status'),
      renameForm, archivedNote, projectMessage),
    h('section', { class: 'panel', id: 'section-keys', 'aria-labelledby': 'section-keys-title' },
      h('h2', { id: 'section-keys-title' }, 'API keys'),
      keyForm, keyError, secret.el, keysMessage,
      h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': 'section-keys-title', tabindex: '0' },
        h('table', { id: 'keys' },
          h('caption', {}, 'The keys that work now, oldest first. A key\'s secret is never shown again after its creation.'),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col' }, 'Key'),
            h('th', { scope: 'col' }, 'Created'),
            h('th', { scope: 'col' }, 'Last used'),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
          keysBody)),
      keysEmpty),
    h('section', { class: 'panel', id: 'section-quotas', 'aria-labelledby': 'section-quotas-title' },
      h('h2', { id: 'section-quotas-title' }, 'Quotas'),
      quotaProblem, quotas.el, editor.el),
    h('section', { class: 'panel', id: 'section-usage', 'aria-labelledby': 'section-usage-title' },
      h('h2', { id: 'section-usage-title' }, 'Tokens and cost, last 30 days'),
      usage.el));

  function showProject(p) {
    project = p;
    setText(heading.querySelector('#project-title'), p.name);
    badge.className = `badge ${p.status}`;
    badge.dataset.status = p.status;
    setText(badge, p.status);
    document.title = `${p.name} · openbatch`;
    if (rename.value === shownName) { // not while someone edits it
      rename.value = p.name;
    }
    shownName = p.name;
    const isArchived = p.status === 'archived';
    archive.hidden = isArchived;
    keyForm.hidden = isArchived;
    archivedNote.hidden = !isArchived;
    setText(archivedNote, isArchived ? `Archived ${dateTime(p.archived_at)}: its keys no longer work and it takes no new key; its data stays readable.` : '');
    body.hidden = false;
  }

  function showQuotas(rows) {
    quotas.update(rows);
    editor.update(rows);
  }

  async function loadKeys() {
    const keys = [];
    let after = null;
    for (let i = 0; i < 50; i += 1) {
      const page = await ctx.api.listKeys(id, { after });
      keys.push(...page.data);
      if (!page.has_more || page.data.length === 0) {
        break;
      }
      after = page.last_id;
    }
    fill(keysBody, keys.map((k) => {
      const revoke = h('button', { type: 'button', class: 'secondary revoke', 'data-key-id': k.id, 'aria-label': `Revoke key ${k.name}` }, 'Revoke');
      revoke.addEventListener('click', () => revokeKey(k, revoke));
      return h('tr', { 'data-key-id': k.id },
        h('th', { scope: 'row' }, k.name, h('span', { class: 'sub mono' }, k.id)),
        h('td', { class: 'mono redacted' }, k.redacted_value),
        h('td', { class: 'created' }, dateTime(k.created_at)),
        h('td', { class: 'last-used' }, k.last_used_at ? dateTime(k.last_used_at) : 'never'),
        h('td', {}, revoke));
    }));
    keysEmpty.hidden = keys.length > 0;
  }

  async function revokeKey(key, button) {
    setText(keysMessage, '');
    const yes = await confirmDialog({
      title: `Revoke key ${key.name}?`,
      text: `Every request made with it (${key.redacted_value}) is refused from now on, on every replica within a second or two. `
        + 'This cannot be undone: whoever uses it will need a new key.',
      confirm: 'Revoke key',
      keep: 'Keep the key',
    });
    if (!yes) {
      return;
    }
    button.disabled = true;
    try {
      await ctx.api.revokeKey(id, key.id);
      setText(keysMessage, `Key ${key.name} is revoked.`);
      await loadKeys();
      keysMessage.focus();
    } catch (e) {
      setText(keysMessage, `Key ${key.name} was not revoked: ${e.message}`);
      button.disabled = false;
    }
  }
  keysMessage.setAttribute('tabindex', '-1');

  async function refresh() {
    try {
      showProject(await ctx.api.getProject(id));
      setText(problem, '');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        poller.stop();
        setText(problem, `There is no project ${id}.`);
        return;
      }
      if (e.status !== 401) {
        setText(problem, `The project could not be read: ${e.message}`);
      }
      throw e;
    }
    try {
      showQuotas((await ctx.api.quotas(id)).data);
      setText(quotaProblem, '');
    } catch (e) {
      if (e.status !== 401) {
        setText(quotaProblem, `The quotas could not be read: ${e.message}`);
      }
    }
    await usage.refresh().catch(() => {});
  }

  renameForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = rename.value.trim();
    setText(projectMessage, '');
    if (!value) {
      setText(projectMessage, 'Enter a name.');
      rename.setAttribute('aria-invalid', 'true');
      rename.focus();
      return;
    }
    renameButton.disabled = true;
    try {
      const p = await ctx.api.renameProject(id, value);
      rename.removeAttribute('aria-invalid');
      rename.value = shownName;
      showProject(p);
      setText(projectMessage, `Renamed: the project is ${p.name}.`);
    } catch (e) {
      setText(projectMessage, `The project was not renamed: ${e.message}`);
      rename.setAttribute('aria-invalid', 'true');
    } finally {
      renameButton.disabled = false;
    }
  });

  archive.addEventListener('click', async () => {
    setText(projectMessage, '');
    const yes = await confirmDialog({
      title: `Archive project ${project ? project.name : id}?`,
      text: 'Its keys stop working at once and it takes no new key; its batches, files and usage stay readable here. '
        + 'This cannot be undone.',
      confirm: 'Archive project',
      keep: 'Keep it active',
    });
    if (!yes) {
      return;
    }
    archive.disabled = true;
    try {
      showProject(await ctx.api.archiveProject(id));
      setText(projectMessage, 'The project is archived.');
      projectMessage.focus();
      await loadKeys();
    } catch (e) {
      setText(projectMessage, `The project was not archived: ${e.message}`);
    } finally {
      archive.disabled = false;
    }
  });
  projectMessage.setAttribute('tabindex', '-1');

  keyForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = keyName.value.trim();
    setText(keyError, '');
    if (!value) {
      setText(keyError, 'Enter a name for the key.');
      keyName.setAttribute('aria-invalid', 'true');
      keyName.focus();
      return;
    }
    createKey.disabled = true;
    try {
      const key = await ctx.api.createKey(id, value);
      keyName.value = '';
      keyName.removeAttribute('aria-invalid');
      secret.show(key);
      ctx.announce(`Key ${key.name} is created. Its secret is shown once: copy it now.`);
      await loadKeys();
    } catch (e) {
      setText(keyError, `The key was not created: ${e.message}`);
      keyName.setAttribute('aria-invalid', 'true');
      keyName.focus();
    } finally {
      createKey.disabled = false;
    }
  });

  loadKeys().catch((e) => {
    if (e.status !== 401 && e.status !== 404) {
      setText(keysMessage, `The keys could not be read: ${e.message}`);
    }
  });
  const poller = poll(refresh, () => SLOW_MS);
  return {
    el,
    unmount() {
      poller.stop();
      secret.hide();
    },
  };
}
