// The cloud's public JSON API, as any third-party app would call it: OAuth2 password login,
// rotating refresh tokens, bearer access tokens. The service worker answers GETs from its cache
// when the network is away and marks them (x-pv-cached-at), so pages can show the data's age.

const STORE = "plantvita.auth";
const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Where the last answer came from: null (live) or the time the cached copy was fetched. */
export const freshness = { cachedAt: null };
const listeners = new Set();
export function onFreshness(listener) {
  listeners.add(listener);
}
function noteFreshness(response) {
  const cached = response.headers.get("x-pv-cached-at");
  const next = cached ? Number(cached) : null;
  if (next !== freshness.cachedAt) {
    freshness.cachedAt = next;
    for (const listener of listeners) listener(freshness);
  }
}

function load() {
  try {
    return JSON.parse(window.localStorage.getItem(STORE)) || null;
  } catch {
    return null;
  }
}

function save(tokens) {
  if (tokens) window.localStorage.setItem(STORE, JSON.stringify(tokens));
  else window.localStorage.removeItem(STORE);
}

export function signedIn() {
  return Boolean(load());
}

export function sessionId() {
  const tokens = load();
  return tokens ? tokens.session_id : null;
}

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  let message = error.message || (body && body.error_description) || `${response.status} ${response.statusText}`;
  if (Array.isArray(error.details) && error.details.length && error.details[0].msg) {
    message += `: ${error.details.map((d) => `${(d.loc || []).slice(-1)[0] || ""} ${d.msg}`.trim()).join("; ")}`;
  }
  return new ApiError(response.status, error.code || (body && body.error) || "http_error", message, error.details);
}

function keep(pair) {
  save({
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    session_id: pair.session_id,
    expires_at: Date.now() + pair.expires_in * 1000,
  });
}

async function clearDataCache() {
  if (window.caches) await window.caches.delete("pv-data");
}

export async function signIn(email, password) {
  const form = new URLSearchParams({ grant_type: "password", username: email, password });
  const response = await fetch(`${API}/auth/token`, { method: "POST", body: form, cache: "no-store" });
  if (!response.ok) throw await toError(response);
  await clearDataCache();
  keep(await response.json());
}

export async function signUp(email, password) {
  const response = await fetch(`${API}/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw await toError(response);
  await signIn(email, password);
}

export async function signOut() {
  const tokens = load();
  save(null);
  await clearDataCache();
  if (tokens) {
    try {
      await fetch(`${API}/auth/logout`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
      });
    } catch {
      // Offline: the token is forgotten here; the session can be revoked from another device.
    }
  }
}

let refreshing = null;

async function refresh() {
  const tokens = load();
  if (!tokens) return false;
  if (!refreshing) {
    refreshing = (async () => {
      const response = await fetch(`${API}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
        cache: "no-store",
      });
      if (response.status === 401) {
        save(null);
        return false;
      }
      if (!response.ok) throw await toError(response);
      keep(await response.json());
      return true;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function send(path, method, body, raw) {
  const tokens = load();
  const headers = { Accept: raw ? "*/*" : "application/json" };
  if (tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
  const options = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return fetch(path.startsWith("/") ? path : `${API}/${path}`, options);
}

/** JSON from the API; a refresh when the access token expired; 401 means sign in again. */
export async function api(path, { method = "GET", body, raw = false } = {}) {
  const tokens = load();
  if (tokens && tokens.expires_at - Date.now() < 30_000 && navigator.onLine) {
    try {
      await refresh();
    } catch {
      // The request below tells whether the old token still works.
    }
  }
  let response = await send(path, method, body, raw);
  if (response.status === 401 && load()) {
    if (await refresh()) response = await send(path, method, body, raw);
  }
  if (!response.ok) throw await toError(response);
  if (method === "GET") noteFreshness(response);
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/** Every item of a list route, following its `Link: <…>; rel="next"` pages (docs/cloud.md). */
export async function apiAll(path) {
  const items = [];
  let next = path;
  while (next) {
    const response = await api(next, { raw: true });
    items.push(...(await response.json()));
    const match = (response.headers.get("link") || "").match(/<([^>]+)>;\s*rel="next"/);
    next = match ? new URL(match[1], location.href).pathname + new URL(match[1], location.href).search : null;
  }
  return items;
}

/** A photo's thumbnail as an object URL (the route needs the bearer token, an <img> cannot send it). */
export async function thumbnail(imageId) {
  const response = await api(`images/${encodeURIComponent(imageId)}/thumbnail`, { raw: true });
  return URL.createObjectURL(await response.blob());
}
