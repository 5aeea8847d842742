// The gateway's REST API (docs/api.md) and its event stream.
//
// The admin token lives in sessionStorage only (gone when the tab closes);
// every call sends it as "Authorization: Bearer". No cookies are used, so
// there is nothing for a cross-site request to ride on (no CSRF).
// EventSource cannot send headers: the stream is opened with a one-time
// ticket that an authorised POST /api/events/ticket hands out.

const KEY = 'duckling.admin-token';

export class ApiError extends Error {
  constructor(status, message, field, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field || null;
    this.body = body || null;
  }
}

export function getToken() {
  return sessionStorage.getItem(KEY);
}

export function setToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

// Listeners for "the token was refused" (the UI goes back to sign-in).
const unauthorizedHandlers = [];
export function onUnauthorized(fn) {
  unauthorizedHandlers.push(fn);
}

// One API call. path starts after /api ("/devices"). Resolves to the parsed
// JSON; rejects with ApiError (status 0 when the gateway cannot be reached).
export async function api(method, path, body, token = getToken()) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api${path}`, init);
  } catch (e) {
    throw new ApiError(0, 'the gateway cannot be reached');
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  if (!res.ok) {
    const msg = (data && data.error) || `HTTP ${res.status}`;
    const err = new ApiError(res.status, msg, data && data.field, data);
    if (res.status === 401 && token === getToken()) unauthorizedHandlers.forEach((fn) => fn(err));
    throw err;
  }
  return data;
}

export const enc = encodeURIComponent;

// A device resource path: "/devices/EP/3311/0/5850".
export function devPath(ep, lwm2mPath = '') {
  return `/devices/${enc(ep)}${lwm2mPath}`;
}

// The event stream. handlers: { type: fn(data) } for the gateway's event
// types (bootstrap, oob, device, registration, notification, audit) and
// onState(state) with 'connecting' | 'live' | 'offline'. Reconnects with a
// fresh ticket after an error (a ticket works once), backing off to 30 s.
export class EventStream {
  constructor(handlers) {
    this.handlers = handlers;
    this.es = null;
    this.timer = null;
    this.delay = 1000;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
  }

  state(s) {
    if (this.handlers.onState) this.handlers.onState(s);
  }

  async connect() {
    if (this.stopped) return;
    this.state('connecting');
    let ticket;
    try {
      ticket = (await api('POST', '/events/ticket')).ticket;
    } catch (e) {
      if (e.status === 401) return; // signed out: onUnauthorized handles it
      this.retry();
      return;
    }
    if (this.stopped) return;
    const es = new EventSource(`/api/events?ticket=${enc(ticket)}`);
    this.es = es;
    es.onopen = () => {
      this.delay = 1000;
      this.state('live');
      if (this.handlers.onOpen) this.handlers.onOpen();
    };
    es.onerror = () => {
      // The browser would retry with the same (now used) ticket: take over.
      es.close();
      if (this.es === es) this.es = null;
      this.retry();
    };
    for (const type of ['bootstrap', 'oob', 'device', 'registration', 'notification', 'audit']) {
      es.addEventListener(type, (ev) => {
        let data;
        try {
          data = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        const fn = this.handlers[type];
        if (fn) fn(data);
        if (this.handlers.any) this.handlers.any(type, data);
      });
    }
  }

  retry() {
    if (this.stopped) return;
    this.state('offline');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, 30000);
  }
}
