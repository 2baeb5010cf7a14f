// openai-answers.mjs: the OpenAI-compatible answers shared by the fake servers (fake-upstream.mjs,
// slot-server.mjs): random ids, token estimates, the four inference bodies (chat/completions,
// completions, embeddings, responses) and the JSON send/sendError helpers.
// Plain Node (no npm dependencies).
//
//   import { openaiHandlers, makeEcho, responseInputLastUser, send, sendError } from './openai-answers.mjs';
//   const HANDLERS = openaiHandlers({ echo: makeEcho(0), systemFingerprint: 'fp_x', responseInput: responseInputLastUser });
//   send(res, 200, HANDLERS['/v1/chat/completions'](body));
//
// What differs between the servers is passed to openaiHandlers: the echo function (the answer's
// text from the prompt's), the chat answers' system_fingerprint, and how a /v1/responses body's
// input is read (responseInputLastUser or responseInputLastItem, or any (body) => {text, promptText}).

import { randomBytes } from 'node:crypto';

// ---------- helpers ----------
const ID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
let idPool = randomBytes(4096), idPos = 0;
// prefix + 24 random alphanumerics
export function rid(prefix) {
  if (idPos + 24 > idPool.length) { idPool = randomBytes(4096); idPos = 0; }
  let s = prefix;
  for (let i = 0; i < 24; i++) s += ID_CHARS[idPool[idPos++] % 62];
  return s;
}
export const nowSec = () => Math.floor(Date.now() / 1000);
export const approxTokens = (text) => Math.max(1, Math.ceil(text.length / 4));

export function send(res, status, obj, extraHeaders) {
  const body = JSON.stringify(obj);
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': rid('req_'),
  };
  if (extraHeaders) Object.assign(headers, extraHeaders);
  res.writeHead(status, headers);
  res.end(body);
}
export function sendError(res, status, message, type, code, extraHeaders) {
  send(res, status, { error: { message, type, param: null, code } }, extraHeaders);
}

export function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}
export function lastUserText(messages) {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.role === 'user') return textOf(m.content);
  }
  return messages.length ? textOf(messages[messages.length - 1]?.content) : '';
}
export function allText(messages) {
  if (!Array.isArray(messages)) return '';
  let s = '';
  for (const m of messages) s += textOf(m && m.content);
  return s;
}
// The echoed answer: "echo: " + the first 200 characters of the prompt, so output lines stay small,
// padded with "x" to at least padTo characters when padTo > 0 (big answers).
export function makeEcho(padTo = 0) {
  const PAD = padTo > 0 ? 'x'.repeat(padTo) : '';
  return (text) => {
    const s = 'echo: ' + (text.length > 200 ? text.slice(0, 200) : text);
    return s.length < PAD.length ? s + PAD.slice(s.length) : s;
  };
}
export function completionTokens(body, text) {
  const cap = Number.isInteger(body.max_tokens) ? body.max_tokens
    : Number.isInteger(body.max_completion_tokens) ? body.max_completion_tokens
    : Number.isInteger(body.max_output_tokens) ? body.max_output_tokens : 16;
  return Math.max(1, Math.min(cap, approxTokens(text)));
}

// ---------- /v1/responses input ----------
// The text of the last item that is a user message (role user or type message); '' when none.
export function responsesInputText(input) {
  if (typeof input === 'string') return input;
  if (Array.isArray(input)) {
    for (let i = input.length - 1; i >= 0; i--) {
      const it = input[i];
      if (it && (it.role === 'user' || it.type === 'message')) return textOf(it.content);
    }
  }
  return '';
}
// fake-upstream.mjs: echo the last user item; input tokens count it plus the instructions.
export function responseInputLastUser(body) {
  const text = responsesInputText(body.input);
  return { text, promptText: text + (typeof body.instructions === 'string' ? body.instructions : '') };
}
// slot-server.mjs: echo the last item whatever its role; input tokens count only it.
export function responseInputLastItem(body) {
  const text = typeof body.input === 'string' ? body.input
    : Array.isArray(body.input) ? textOf(body.input[body.input.length - 1]?.content) : '';
  return { text, promptText: text };
}

// ---------- the answers ----------
export const EMBEDDING = [0.0, 0.001, -0.002, 0.003, -0.004, 0.005, -0.006, 0.007];

// The path → handler map of the four inference routes; each handler takes the parsed body (an
// object with a string model) and returns the answer object.
//   echo               (promptText) => answer text                      default makeEcho(0)
//   systemFingerprint  system_fingerprint of chat completions
//   responseInput      (body) => {text, promptText} for /v1/responses   default responseInputLastUser
export function openaiHandlers({ echo = makeEcho(0), systemFingerprint, responseInput = responseInputLastUser } = {}) {
  function chatCompletion(body) {
    const prompt = allText(body.messages);
    const content = echo(lastUserText(body.messages));
    const pt = approxTokens(prompt), ct = completionTokens(body, content);
    return {
      id: rid('chatcmpl-'),
      object: 'chat.completion',
      created: nowSec(),
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: pt, completion_tokens: ct, total_tokens: pt + ct },
      system_fingerprint: systemFingerprint,
    };
  }
  function completion(body) {
    const prompts = Array.isArray(body.prompt) ? body.prompt.map(String) : [typeof body.prompt === 'string' ? body.prompt : ''];
    let pt = 0, ct = 0;
    const choices = prompts.map((p, index) => {
      const text = echo(p);
      pt += approxTokens(p); ct += completionTokens(body, text);
      return { index, text, logprobs: null, finish_reason: 'stop' };
    });
    return {
      id: rid('cmpl-'), object: 'text_completion', created: nowSec(), model: body.model, choices,
      usage: { prompt_tokens: pt, completion_tokens: ct, total_tokens: pt + ct },
    };
  }
  function embeddings(body) {
    const inputs = Array.isArray(body.input) ? body.input : [body.input ?? ''];
    let pt = 0;
    const data = inputs.map((inp, index) => {
      pt += typeof inp === 'string' ? approxTokens(inp) : Array.isArray(inp) ? Math.max(1, inp.length) : 1;
      return { object: 'embedding', index, embedding: EMBEDDING };
    });
    return { object: 'list', data, model: body.model, usage: { prompt_tokens: pt, total_tokens: pt } };
  }
  function response(body) {
    const { text: inText, promptText } = responseInput(body);
    const text = echo(inText);
    const it = approxTokens(promptText), ot = completionTokens(body, text);
    return {
      id: rid('resp_'), object: 'response', created_at: nowSec(), status: 'completed', model: body.model,
      output: [{
        type: 'message', id: rid('msg_'), status: 'completed', role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [] }],
      }],
      usage: {
        input_tokens: it, input_tokens_details: { cached_tokens: 0 },
        output_tokens: ot, output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: it + ot,
      },
    };
  }
  return {
    '/v1/chat/completions': chatCompletion,
    '/v1/completions': completion,
    '/v1/embeddings': embeddings,
    '/v1/responses': response,
  };
}
