// What the UI knows about the gateway, refreshed from the API and kept
// current by the event stream. Views subscribe to changes.

import { api } from './api.js';

export const store = {
  status: null,
  devices: new Map(), // endpoint → device (GET /api/devices rows)
  pending: [], // GET /api/pending rows
  oob: new Map(), // endpoint → OOB record (no secrets)
  values: new Map(), // endpoint → Map(path → {value, time})
  listeners: new Set(),
};

export function subscribe(fn) {
  store.listeners.add(fn);
  return () => store.listeners.delete(fn);
}

export function emit(what, detail) {
  for (const fn of [...store.listeners]) fn(what, detail);
}

export async function loadStatus() {
  store.status = await api('GET', '/status');
  emit('status');
  return store.status;
}

export async function loadDevices() {
  const r = await api('GET', '/devices');
  store.devices = new Map(r.devices.map((d) => [d.endpoint, d]));
  emit('devices');
}

export async function loadPending() {
  const [p, o] = await Promise.all([api('GET', '/pending'), api('GET', '/oob')]);
  store.pending = p.pending;
  store.oob = new Map(o.oob.map((r) => [r.endpoint, r]));
  emit('pending');
}

export async function loadDevice(ep) {
  const d = await api('GET', `/devices/${encodeURIComponent(ep)}`);
  store.devices.set(ep, d);
  const m = new Map();
  for (const v of d.values || []) m.set(v.path, { value: v.value, time: v.time });
  store.values.set(ep, m);
  emit('device', ep);
  return d;
}

export function setValue(ep, path, value, time) {
  if (!store.values.has(ep)) store.values.set(ep, new Map());
  store.values.get(ep).set(path, { value, time });
  emit('value', { ep, path, value, time });
}

export function getValue(ep, path) {
  const m = store.values.get(ep);
  return m ? m.get(path) : undefined;
}
