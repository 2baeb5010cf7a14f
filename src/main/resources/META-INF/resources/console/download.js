// Downloads go through fetch, because the key travels in a header and never in a URL: the bytes
// become a blob in the browser, and a temporary link saves it under the file's own name.

/** Saves file `id` as `filename`. */
export async function download(ctx, id, filename) {
  const res = await ctx.api.fileContent(id);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename || `${id}.jsonl`;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // the browser has taken the blob once the click is handled; free it a little later
  setTimeout(() => URL.revokeObjectURL(href), 60000);
  return blob.size;
}

/**
 * The first `max` lines of a file (parsed as JSON), reading at most `maxBytes` of it and then
 * stopping the download: enough to show the first errors of a large error file.
 */
export async function firstLines(ctx, id, max = 10, maxBytes = 262144) {
  const controller = new AbortController();
  const res = await ctx.api.fileContent(id, controller.signal);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let read = 0;
  let complete = false;
  try {
    while (text.split('\n').length <= max && read < maxBytes) {
      const { done, value } = await reader.read();
      if (done) {
        complete = true;
        break;
      }
      read += value.length;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    if (!complete) {
      controller.abort();
    }
  }
  const lines = text.split('\n');
  if (!complete) {
    lines.pop(); // perhaps cut short
  }
  const parsed = [];
  for (const line of lines.slice(0, max)) {
    if (line.trim() === '') {
      continue;
    }
    try {
      parsed.push(JSON.parse(line));
    } catch (e) {
      break;
    }
  }
  return { lines: parsed, more: !complete || lines.filter((l) => l.trim() !== '').length > max };
}
