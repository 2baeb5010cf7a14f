// The console talks to the API of the service that served it, exactly as any client does:
// relative URLs (so it also works behind a path prefix), the key in the Authorization header.
// The key lives in sessionStorage only: it is gone when the tab closes and never part of a URL.

const KEY = 'openbatch.key';
const WHO = 'openbatch.identity';

export const session = {
  key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.removeItem(WHO);
  },
  /** Who the key is, `{ admin, project }`, once `identify` has found out (null before). */
  identity() {
    try {
      return JSON.parse(sessionStorage.getItem(WHO));
    } catch (e) {
      return null;
    }
  },
  setIdentity(identity) {
    sessionStorage.setItem(WHO, JSON.stringify(identity));
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(WHO);
  },
};

/**
 * Finds out what the session's key is, with one request (two for the admin key): a project's key
 * lists its batches, and the answer names its project (`OpenAI-Project`); the operator's admin key
 * is told that it needs a project to read batches (400 `missing_project`) and lists projects.
 * Throws the API's refusal of any other key (401).
 */
export async function identify() {
  let identity;
  try {
    const res = await request('v1/batches?limit=1', { raw: true });
    identity = { admin: false, project: res.headers.get('OpenAI-Project') };
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'missing_project') {
      throw e;
    }
    await request('v1/organization/projects?limit=1');
    identity = { admin: true, project: null };
  }
  session.setIdentity(identity);
  return identity;
}

/** An answer other than 2xx: the API's error envelope, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, message, param = null, code = null) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
  }
}

/** Milliseconds to add to this browser's clock to get the server's (from the answers' Date headers). */
let clockOffset = 0;

/** The server's time now, in Unix seconds. */
export function serverNow() {
  return (Date.now() + clockOffset) / 1000;
}

function url(path) {
  return new URL(path, document.baseURI).toString();
}

/**
 * One request. `json` is sent as a JSON body, `form` as multipart; `raw` returns the Response
 * itself (for downloads). A 401 also tells the page (event `openbatch:unauthorized`), which asks
 * for a key again.
 */
export async function request(path, { method = 'GET', json, form, headers = {}, raw = false, signal } = {}) {
  const key = session.key();
  const all = { ...headers };
  if (key) {
    all.Authorization = `Bearer ${key}`;
  }
  let body;
  if (json !== undefined) {
    all['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser writes the multipart boundary
  }
  let res;
  try {
    res = await fetch(url(path), { method, headers: all, body, signal, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    if (e.name === 'AbortError') {
      throw e;
    }
    throw new ApiError(0, 'The service cannot be reached. Check that it is running; the console tries again by itself.');
  }
  const date = Date.parse(res.headers.get('Date') || '');
  if (!Number.isNaN(date)) {
    // Date has whole seconds: keep the offset unless it is off by more than a second
    const offset = date - Date.now();
    if (Math.abs(offset - clockOffset) > 1500) {
      clockOffset = offset;
    }
  }
  if (!res.ok) {
    throw await errorOf(res);
  }
  if (raw) {
    return res;
  }
  return res.json();
}

async function errorOf(res) {
  let error = null;
  try {
    const body = await res.json();
    error = body && body.error;
  } catch (e) {
    // not the envelope: a proxy's page, say
  }
  const message = error && error.message ? error.message : `The service answered HTTP ${res.status}.`;
  const failure = new ApiError(res.status, message, error ? error.param : null, error ? error.code : null);
  if (res.status === 401) {
    window.dispatchEvent(new CustomEvent('openbatch:unauthorized', { detail: failure }));
  }
  return failure;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined) {
      q.set(k, v);
    }
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const api = {
  listBatches: ({ after = null, limit = 25 } = {}) => request(`v1/batches${query({ after, limit })}`),
  /** The batch; `paused` (not a field of the Batch object) from its `openbatch-paused` header, or null. */
  async getBatch(id) {
    const res = await request(`v1/batches/${encodeURIComponent(id)}`, { raw: true });
    const batch = await res.json();
    const header = res.headers.get('openbatch-paused');
    let paused = null;
    try {
      paused = header ? JSON.parse(header) : null;
    } catch (e) {
      paused = null; // not ours: a proxy's header
    }
    return { batch, paused };
  },
  cancelBatch: (id) => request(`v1/batches/${encodeURIComponent(id)}/cancel`, { method: 'POST' }),
  retryBatch: (id) => request(`v1/batches/${encodeURIComponent(id)}/retry`, { method: 'POST' }),
  /** The lines settled after `after` (JSONL); the Response, for its Openbatch-* headers. */
  results: (id, { after = null, limit = 1000, signal } = {}) => request(
    `v1/batches/${encodeURIComponent(id)}/results${query({ after, limit })}`, { raw: true, signal }),
  createBatch: (body, idempotencyKey) => request('v1/batches', { method: 'POST', json: body, headers: { 'Idempotency-Key': idempotencyKey } }),
  uploadFile(file, purpose = 'batch') {
    const form = new FormData();
    form.append('purpose', purpose);
    form.append('file', file, file.name);
    return request('v1/files', { method: 'POST', form });
  },
  getFile: (id) => request(`v1/files/${encodeURIComponent(id)}`),
  fileContent: (id, signal) => request(`v1/files/${encodeURIComponent(id)}/content`, { raw: true, signal }),
  listJobs: () => request('v1/jobs?limit=100'),
  getJob: (id) => request(`v1/jobs/${encodeURIComponent(id)}`),

  // ---- usage, costs and quotas (a project key: its own project's; the admin key: any) ----
  /** Usage buckets; `projectIds` (admin key) only these projects; `groupBy` an array. */
  usage: ({ start, limit, width = '1d', groupBy = [], projectIds = [] }) => request(`v1/organization/usage/batches${query({
    start_time: start, bucket_width: width, limit, group_by: groupBy.join(',') || null, project_ids: projectIds.join(',') || null,
  })}`),
  costs: ({ start, limit, width = '1d', groupBy = [], projectIds = [] }) => request(`v1/organization/costs${query({
    start_time: start, bucket_width: width, limit, group_by: groupBy.join(',') || null, project_ids: projectIds.join(',') || null,
  })}`),
  quotas: (projectId) => request(`v1/organization/projects/${encodeURIComponent(projectId)}/quotas`),

  // ---- the admin key only ----
  listProjects: ({ after = null, limit = 100, includeArchived = false } = {}) => request(
    `v1/organization/projects${query({ after, limit, include_archived: includeArchived ? 'true' : null })}`),
  getProject: (id) => request(`v1/organization/projects/${encodeURIComponent(id)}`),
  createProject: (name) => request('v1/organization/projects', { method: 'POST', json: { name } }),
  renameProject: (id, name) => request(`v1/organization/projects/${encodeURIComponent(id)}`, { method: 'POST', json: { name } }),
  archiveProject: (id) => request(`v1/organization/projects/${encodeURIComponent(id)}/archive`, { method: 'POST' }),
  listKeys: (id, { after = null, limit = 100 } = {}) => request(
    `v1/organization/projects/${encodeURIComponent(id)}/api_keys${query({ after, limit })}`),
  createKey: (id, name) => request(`v1/organization/projects/${encodeURIComponent(id)}/api_keys`, { method: 'POST', json: { name } }),
  revokeKey: (id, keyId) => request(`v1/organization/projects/${encodeURIComponent(id)}/api_keys/${encodeURIComponent(keyId)}`,
    { method: 'DELETE' }),
  /** `{ quota: limit }`, null removing an override; answers the headroom after. */
  setQuotas: (id, values) => request(`v1/organization/projects/${encodeURIComponent(id)}/quotas`, { method: 'POST', json: values }),
};
