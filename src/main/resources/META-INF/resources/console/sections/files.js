// Files: the input file, and the output and error files once the batch has them, each with its
// name, size and a download button.

import { h, setText } from '../dom.js';
import { bytes, count } from '../format.js';
import { download } from '../download.js';
import { isLive } from '../progress.js';

function fileRow(ctx, key, label) {
  const name = h('span', { class: 'mono' });
  const size = h('span', { class: 'muted small' });
  const button = h('button', { type: 'button', class: 'secondary', id: `download-${key}`, hidden: true }, `Download ${label.toLowerCase()}`);
  const message = h('span', { class: 'small', role: 'status' });
  const li = h('li', { 'data-file': key }, h('span', { class: 'what' }, label), name, size, button, message);
  let fileId = null;
  let filename = null;

  button.addEventListener('click', async () => {
    button.disabled = true;
    setText(message, 'Downloading…');
    try {
      const n = await download(ctx, fileId, filename);
      setText(message, `Saved ${filename} (${bytes(n)}).`);
    } catch (e) {
      setText(message, `The download failed: ${e.message}`);
    } finally {
      button.disabled = false;
    }
  });

  return {
    li,
    show(id, none) {
      if (!id) {
        button.hidden = true;
        name.className = 'muted';
        setText(name, none);
        setText(size, '');
        return;
      }
      if (id === fileId) {
        return;
      }
      fileId = id;
      filename = `${id}.jsonl`;
      name.className = 'mono';
      setText(name, id);
      button.hidden = false;
      button.setAttribute('aria-label', `Download ${label.toLowerCase()} ${id}`);
      ctx.api.getFile(id).then((f) => {
        filename = f.filename || filename;
        setText(name, filename);
        setText(size, `${bytes(f.bytes)} · ${id}`);
      }).catch((e) => setText(size, e.status === 404 ? 'deleted' : ''));
    },
  };
}

export default {
  id: 'files',
  title: 'Files',
  create(ctx) {
    const input = fileRow(ctx, 'input', 'Input file');
    const output = fileRow(ctx, 'output', 'Output file');
    const error = fileRow(ctx, 'error', 'Error file');
    return {
      el: h('ul', { class: 'files' }, input.li, output.li, error.li),
      update(batch) {
        const live = isLive(batch);
        input.show(batch.input_file_id, '—');
        const ran = batch.status !== 'failed'; // a failed batch never ran a line
        output.show(batch.output_file_id, live ? 'once the batch ends' : (ran ? 'none: no line succeeded' : 'none: the input file failed validation'));
        error.show(batch.error_file_id, live
          ? `once the batch ends${batch.request_counts.failed ? ` (${count(batch.request_counts.failed)} failed so far)` : ''}`
          : (ran ? 'none: no line failed' : 'none: the input file failed validation'));
      },
    };
  },
};
