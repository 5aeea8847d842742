// One device: state, registration, live values of observed resources, the
// light, the objects tree, reboot and factory reset. Device operations go
// through the gateway's LwM2M Server (PUT/POST/GET /api/devices/EP/...); their
// errors (device offline, server not running) are shown where they happened.

import { api, devPath } from './api.js';
import { h, clear, timeEl, fmtTime, stateBadge, STATE_TEXT, CRED_TEXT } from './util.js';
import { toast, confirmDialog, onCleanup, errorText } from './ui.js';
import { store, subscribe, loadDevice, setValue, getValue } from './store.js';
import { LIVE, parseObjectLinks, objectName, resourceName, OBJECTS } from './objects.js';

const observed = new Set(); // "ep path" observed during this session

function fmtValue(v) {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(2)));
  if (typeof v === 'boolean') return v ? 'on (true)' : 'off (false)';
  if (typeof v === 'object' && 'opaque' in v) return `opaque, ${Math.floor((v.opaque.length * 3) / 4)} bytes`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function deviceView(ep) {
  const title = h('h1', { tabindex: '-1' }, ep);
  const body = h('div', { class: 'device-body' }, h('p', {}, 'Loading…'));
  const view = h('div', { class: 'view device', dataset: { endpoint: ep } },
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Devices'), ' › ', ep),
    title, body);
  let dev = null;
  let parts = null;

  const render = () => {
    if (!dev) return;
    if (!parts) {
      parts = build(ep);
      clear(body).append(parts.root);
    }
    parts.update(dev);
  };

  const load = async () => {
    try {
      dev = await loadDevice(ep);
      render();
    } catch (e) {
      clear(body).append(h('p', { class: 'field-error', role: 'alert' },
        e.status === 404 ? `There is no device ${ep}.` : `Cannot load ${ep}: ${errorText(e)}`),
        h('p', {}, h('a', { href: '#/' }, 'Back to the devices')));
    }
  };

  onCleanup(subscribe((what, d) => {
    if (what === 'value' && d.ep === ep && parts) parts.value(d.path);
    if (what === 'devices' && store.devices.has(ep)) {
      const row = store.devices.get(ep);
      // The list has no values or credentials: reload the whole device when
      // something that matters changed.
      if (!dev || row.state !== dev.state || row.last_seen !== dev.last_seen ||
          JSON.stringify(row.registration) !== JSON.stringify(dev.registration) ||
          JSON.stringify(row.location) !== JSON.stringify(dev.location)) load();
    }
    if (what === 'devices' && !store.devices.has(ep) && dev) {
      dev = null;
      parts = null;
      clear(body).append(h('p', { role: 'status' }, `${ep} was removed.`), h('p', {}, h('a', { href: '#/' }, 'Back to the devices')));
    }
  }));
  load();
  return view;
}

// Builds the page's sections once; update(dev) fills them in.
function build(ep) {
  const state = h('span', { class: 'state-line', id: 'dev-state' });
  const facts = h('dl', { class: 'facts' });
  const reg = h('dl', { class: 'facts', id: 'dev-registration' });
  const opsNote = h('p', { class: 'notice', id: 'ops-note', hidden: true });

  // ---- live values ----
  const liveCards = new Map();
  const liveBox = h('div', { class: 'live' });
  for (const l of LIVE) {
    const val = h('span', { class: 'value', 'data-path': l.path, 'aria-live': 'polite' }, '—');
    const when = h('span', { class: 'when muted' });
    const status = h('span', { class: 'op-status', role: 'status' });
    const btn = h('button', { type: 'button', class: 'small', 'data-key': `observe-${l.path}` }, 'Observe');
    btn.addEventListener('click', () => observe(ep, l.path, btn, status));
    liveCards.set(l.path, { val, when, btn, status, unit: l.unit });
    liveBox.append(h('div', { class: 'live-card', dataset: { path: l.path } },
      h('span', { class: 'label' }, l.label), h('span', { class: 'reading' }, val, ` ${l.unit}`), when, btn, status));
  }

  // ---- light ----
  const lightStatus = h('p', { class: 'op-status', role: 'status', id: 'light-status' });
  const lightBtn = h('button', { type: 'button', class: 'switch', id: 'light-switch', 'aria-pressed': 'false' },
    h('span', { class: 'knob', 'aria-hidden': 'true' }), h('span', { class: 'switch-text' }, 'Light'));
  const dimmer = h('input', { type: 'range', id: 'dimmer', min: 0, max: 100, step: 1, value: 100, 'aria-describedby': 'light-status' });
  const dimOut = h('output', { for: 'dimmer', id: 'dimmer-out' }, '100 %');
  dimmer.addEventListener('input', () => { dimOut.textContent = `${dimmer.value} %`; });
  lightBtn.addEventListener('click', async () => {
    const on = lightBtn.getAttribute('aria-pressed') !== 'true';
    await write(ep, '/3311/0/5850', on, lightBtn, lightStatus, `Light switched ${on ? 'on' : 'off'}.`);
  });
  dimmer.addEventListener('change', async () => {
    await write(ep, '/3311/0/5851', Number(dimmer.value), dimmer, lightStatus, `Dimmer set to ${dimmer.value} %.`);
  });

  // ---- objects ----
  const tree = h('ul', { class: 'tree', id: 'objects' });

  // ---- maintenance ----
  const maintStatus = h('p', { class: 'op-status', role: 'status', id: 'maint-status' });
  const reboot = h('button', { type: 'button', id: 'reboot' }, 'Reboot');
  const reset = h('button', { type: 'button', id: 'factory-reset', class: 'danger' }, 'Factory reset…');
  const remove = h('button', { type: 'button', id: 'remove' }, 'Remove device…');
  reboot.addEventListener('click', async () => {
    reboot.disabled = true;
    maintStatus.textContent = 'Asking the device to reboot…';
    try {
      await api('POST', devPath(ep, '/3/0/4'));
      maintStatus.textContent = 'The device is rebooting.';
    } catch (e) {
      maintStatus.textContent = `Reboot failed: ${errorText(e)}`;
    } finally {
      reboot.disabled = false;
    }
  });
  reset.addEventListener('click', async () => {
    const ok = await confirmDialog(`Factory reset ${ep}?`,
      `${ep} forgets its operational credentials and settings and goes back to factory mode; ` +
      'the gateway revokes its credentials. To use it again it must be approved again.',
      'Factory reset');
    if (!ok) {
      maintStatus.textContent = 'Factory reset cancelled.';
      return;
    }
    reset.disabled = true;
    maintStatus.textContent = 'Factory reset in progress…';
    try {
      await api('POST', devPath(ep, '/reset'));
      maintStatus.textContent = 'Factory reset done: credentials revoked, the device is back in factory mode.';
      toast(`${ep} was factory reset.`);
      loadDevice(ep).catch(() => {});
    } catch (e) {
      maintStatus.textContent = `Factory reset failed: ${errorText(e)}`;
    } finally {
      reset.disabled = false;
    }
  });
  remove.addEventListener('click', async () => {
    const ok = await confirmDialog(`Remove ${ep}?`,
      `The gateway forgets ${ep} and revokes its credentials. Its label must be added again to use it.`,
      'Remove device');
    if (!ok) return;
    try {
      await api('DELETE', devPath(ep));
      toast(`${ep} removed.`);
      location.hash = '#/';
    } catch (e) {
      maintStatus.textContent = `Remove failed: ${errorText(e)}`;
    }
  });

  const root = h('div', {},
    h('p', {}, state),
    opsNote,
    h('div', { class: 'grid2' },
      h('section', { class: 'card', 'aria-labelledby': 'status-h' }, h('h2', { id: 'status-h' }, 'Status'), facts),
      h('section', { class: 'card', 'aria-labelledby': 'reg-h' }, h('h2', { id: 'reg-h' }, 'Registration'), reg)),
    h('section', { class: 'card', 'aria-labelledby': 'live-h' }, h('h2', { id: 'live-h' }, 'Live values'), liveBox),
    h('section', { class: 'card', 'aria-labelledby': 'light-h', id: 'light' },
      h('h2', { id: 'light-h' }, 'Light'),
      h('div', { class: 'light-row' }, lightBtn,
        h('span', { class: 'dim' }, h('label', { for: 'dimmer' }, 'Dimmer'), dimmer, dimOut)),
      lightStatus),
    h('section', { class: 'card', 'aria-labelledby': 'obj-h' }, h('h2', { id: 'obj-h' }, 'Objects'), tree),
    h('section', { class: 'card', 'aria-labelledby': 'maint-h' }, h('h2', { id: 'maint-h' }, 'Maintenance'),
      h('div', { class: 'actions' }, reboot, reset, remove), maintStatus));

  const value = (path) => {
    const v = getValue(ep, path);
    const c = liveCards.get(path);
    if (c) {
      c.val.textContent = v ? fmtValue(v.value) : '—';
      clear(c.when).append(v && v.time ? h('span', {}, 'updated ', timeEl(v.time, true)) : '');
      c.val.classList.remove('flash');
      void c.val.offsetWidth; // restart the highlight
      if (v) c.val.classList.add('flash');
    }
    if (path === '/3311/0/5850' && v) lightBtn.setAttribute('aria-pressed', String(v.value === true || v.value === 1));
    if (path === '/3311/0/5851' && v && typeof v.value === 'number') {
      dimmer.value = String(v.value);
      dimOut.textContent = `${v.value} %`;
    }
  };

  const update = (dev) => {
    const registered = dev.state === 'registered';
    clear(state).append(stateBadge(dev.state), ' ', STATE_TEXT[dev.state] || '');
    const st = store.status;
    opsNote.hidden = registered && (!st || st.server.available);
    opsNote.textContent = st && !st.server.available
      ? `Device operations need the LwM2M Server, which is ${st.server.status}.`
      : `The controls work while the device is registered (it is ${dev.state} now).`;
    const cred = dev.credentials;
    const req = dev.bootstrap_request;
    clear(facts).append(
      h('dt', {}, 'State'), h('dd', {}, dev.state),
      h('dt', {}, 'Type'), h('dd', {}, dev.type || '?'),
      h('dt', {}, 'Last seen'), h('dd', {}, timeEl(dev.last_seen, true)),
      h('dt', {}, 'Added'), h('dd', {}, timeEl(dev.created)),
      h('dt', {}, 'Credentials'), h('dd', {}, cred
        ? `${CRED_TEXT[cred.kind] || cred.kind}${cred.psk_identity ? ` (identity ${cred.psk_identity})` : ''}, issued ${fmtTime(cred.issued)}`
        : 'none issued'),
      h('dt', {}, 'Bootstrap'), h('dd', {}, req
        ? `${req.state}${req.label_match ? ', label matches' : ', label does not match'} (${CRED_TEXT[req.peer_cred_type] || req.peer_cred_type})`
        : 'not asked yet'),
      h('dt', {}, 'Location'), h('dd', {}, dev.location
        ? h('a', { href: '#/map' }, `${dev.location.lat.toFixed(5)}, ${dev.location.lon.toFixed(5)}`)
        : 'not reported'));
    const r = dev.registration;
    clear(reg).append(...(r
      ? [h('dt', {}, 'Now'), h('dd', {}, registered ? 'registered' : `not registered (${dev.state})`),
        h('dt', {}, registered ? 'Registered' : 'Last registered'), h('dd', {}, timeEl(r.time)),
        h('dt', {}, 'Lifetime'), h('dd', {}, `${r.lifetime} s`),
        h('dt', {}, 'LwM2M'), h('dd', {}, `${r.lwm2m}, binding ${r.binding}`),
        h('dt', {}, 'Address'), h('dd', {}, r.peer || '?'),
        h('dt', {}, 'Location'), h('dd', {}, r.location || '?')]
      : [h('dt', {}, 'Registration'), h('dd', {}, 'not registered yet')]));
    renderTree(ep, tree, r ? r.objects : '');
    for (const el of [lightBtn, dimmer, reboot, reset]) el.disabled = !registered;
    for (const c of liveCards.values()) c.btn.disabled = !registered;
    for (const l of LIVE) value(l.path);
    value('/3311/0/5850');
    value('/3311/0/5851');
    // Live values: observe what the device has, once per registration.
    if (!registered) for (const l of LIVE) observed.delete(`${ep} ${l.path}`);
    if (registered) {
      const objs = parseObjectLinks(r ? r.objects : '').map((o) => o.id);
      for (const l of LIVE) {
        const obj = Number(l.path.split('/')[1]);
        if (objs.includes(obj) && !observed.has(`${ep} ${l.path}`)) {
          const c = liveCards.get(l.path);
          observe(ep, l.path, c.btn, c.status);
        }
      }
    }
  };

  return { root, update, value };
}

async function observe(ep, path, btn, status) {
  observed.add(`${ep} ${path}`);
  btn.disabled = true;
  status.textContent = 'Observing…';
  try {
    const r = await api('POST', devPath(ep, `${path}/observe`));
    if (r && r.value !== undefined) setValue(ep, path, r.value, Math.floor(Date.now() / 1000));
    status.textContent = 'Observed: new values appear here.';
  } catch (e) {
    observed.delete(`${ep} ${path}`);
    status.textContent = `Cannot observe: ${errorText(e)}`;
  } finally {
    btn.disabled = false;
  }
}

async function write(ep, path, value, control, status, okText) {
  control.disabled = true;
  status.textContent = 'Sending…';
  try {
    await api('PUT', devPath(ep, path), { value });
    setValue(ep, path, value, Math.floor(Date.now() / 1000));
    status.textContent = okText;
  } catch (e) {
    status.textContent = `Failed: ${errorText(e)}`;
  } finally {
    control.disabled = false;
  }
}

// The objects the device registered, each a disclosure with its instances;
// "Read" fetches an instance's resources.
function renderTree(ep, tree, links) {
  const objs = parseObjectLinks(links);
  const key = JSON.stringify(objs);
  if (tree.dataset.links === key) return;
  tree.dataset.links = key;
  clear(tree);
  if (!objs.length) {
    tree.append(h('li', { class: 'empty' }, 'Known once the device registers.'));
    return;
  }
  for (const o of objs) {
    const inst = o.instances.length ? o.instances : [null];
    const items = inst.map((i) => {
      const path = i === null ? `/${o.id}` : `/${o.id}/${i}`;
      const out = h('div', { class: 'readout' });
      const read = h('button', { type: 'button', class: 'small', 'aria-label': `Read ${path}` }, 'Read');
      read.addEventListener('click', async () => {
        read.disabled = true;
        clear(out).append('Reading…');
        try {
          const r = await api('GET', devPath(ep, path));
          clear(out).append(readout(o.id, r.value));
        } catch (e) {
          clear(out).append(`Read failed: ${errorText(e)}`);
        } finally {
          read.disabled = false;
        }
      });
      return h('li', {}, h('span', { class: 'path' }, i === null ? `${path} (no instances)` : `Instance ${i}`), ' ', read, out);
    });
    const exec = OBJECTS[o.id] && OBJECTS[o.id].exec ? ` · executable: ${OBJECTS[o.id].exec.map((r) => resourceName(o.id, r)).join(', ')}` : '';
    tree.append(h('li', {}, h('details', {},
      h('summary', {}, `${objectName(o.id)} `, h('span', { class: 'muted' }, `/${o.id} · ${o.instances.length} instance${o.instances.length === 1 ? '' : 's'}${exec}`)),
      h('ul', {}, items))));
  }
}

// A read result: a single value or a SenML-like list [{n, v|vs|vb|vd}].
function readout(obj, value) {
  if (!Array.isArray(value)) return h('span', {}, fmtValue(value));
  const rows = value.map((e) => {
    const v = 'v' in e ? e.v : 'vb' in e ? e.vb : 'vs' in e ? e.vs : 'vd' in e ? `opaque (${e.vd.length} base64 chars)` : e.value;
    const res = Number((e.n || '').split('/')[3]);
    return h('tr', {}, h('th', { scope: 'row' }, e.n || ''), h('td', {}, Number.isInteger(res) ? resourceName(obj, res) : ''), h('td', {}, fmtValue(v)));
  });
  return h('table', { class: 'values' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Path'), h('th', { scope: 'col' }, 'Resource'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', {}, rows));
}

