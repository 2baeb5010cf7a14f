// The key form: the only way a key gets into the console. It is kept in sessionStorage (this tab,
// until it closes) and checked before the console opens: a project's key opens its batches, the
// operator's admin key the projects.

import { identify, session } from './api.js';
import { h, setText } from './dom.js';

export function keyView(ctx, reason) {
  const input = h('input', {
    id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'api-key-hint api-key-error',
  });
  const error = h('p', { id: 'api-key-error', class: 'alert', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'open-console' }, 'Open console');
  if (reason) {
    setText(error, reason);
    input.setAttribute('aria-invalid', 'true');
  }

  const form = h('form', { class: 'panel key-form', novalidate: true, 'aria-labelledby': 'key-title' },
    h('h1', { id: 'key-title', tabindex: '-1' }, 'Open the console'),
    h('div', { class: 'field' },
      h('label', { for: 'api-key' }, 'API key'),
      input,
      h('span', { id: 'api-key-hint', class: 'hint' },
        'The key of your project, as you send it to the API, or the operator\'s admin key. It stays in this browser tab (session storage) until the tab closes, '
        + 'and goes only to this service, in the Authorization header.')),
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      setText(error, 'Enter a key.');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    submit.disabled = true;
    setText(error, '');
    session.set(key);
    try {
      await identify();
      input.value = '';
      ctx.signedIn();
    } catch (e) {
      session.clear();
      setText(error, e.status === 401 ? 'That key was refused. Check it and try again.' : e.message);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });

  return {
    el: form,
    focus() {
      input.focus();
    },
    unmount() {},
  };
}
