// A confirmation as a modal <dialog>: focus moves into it (to the safe choice), Escape or the
// safe button says no, and focus returns to where it was.

import { h } from './dom.js';

/** Resolves to true when the person confirms. */
export function confirmDialog({ title, text, confirm, keep, danger = true }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const no = h('button', { type: 'button', class: 'secondary', id: 'confirm-no' }, keep);
    const yes = h('button', { type: 'button', class: danger ? 'danger' : '', id: 'confirm-yes' }, confirm);
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text', id: 'confirm-dialog' },
      h('h2', { id: 'confirm-title' }, title),
      h('p', { id: 'confirm-text' }, text),
      h('div', { class: 'actions' }, no, yes));
    let answer = false;
    no.addEventListener('click', () => dialog.close());
    yes.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') {
        opener.focus();
      }
      resolve(answer);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    no.focus();
  });
}
