// The console's JSON API (docs/console.md), as the page uses it. Every POST sends
// the session's CSRF token; errors come back as {"error": "..."} and are thrown
// as ApiError with the HTTP status.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let csrf = '';

export function setCsrf(token) {
  csrf = token || '';
}

async function answer(resp) {
  const text = await resp.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = null;
  }
  if (!resp.ok) {
    const msg = (body && body.error) || text || resp.statusText;
    throw new ApiError(resp.status, msg);
  }
  return body;
}

export async function get(path) {
  const resp = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  return answer(resp);
}

export async function post(path, body) {
  const resp = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify(body ?? {}),
  });
  return answer(resp);
}

export const api = {
  session: () => get('/api/session'),
  config: () => get('/api/config'),
  login: (user, password) => post('/api/login', { user, password }),
  logout: () => post('/api/logout', {}),
  cases: (params) => get('/api/cases?' + params.toString()),
  case: (id) => get('/api/cases/' + encodeURIComponent(id)),
  evidence: (id) => get('/api/cases/' + encodeURIComponent(id) + '/evidence'),
  setStatus: (id, status, note) => post('/api/cases/' + encodeURIComponent(id) + '/status', { status, note }),
  cells: (bbox) => get('/api/cells?' + (bbox ? 'bbox=' + encodeURIComponent(bbox) : '')),
  packageUrl: (id) => '/api/cases/' + encodeURIComponent(id) + '/package',
};
