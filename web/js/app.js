// duckling web UI: the shell (sign-in, navigation, event stream) and the
// home, map and activity views. Plain ES modules, no build step.

import { api, ApiError, getToken, setToken, clearToken, onUnauthorized, EventStream } from './api.js';
import { h, clear, $, timeEl, ago, stateBadge, CRED_TEXT } from './util.js';
import { toast, replaceKeepFocus, onCleanup, runCleanup, errorText } from './ui.js';
import { store, subscribe, emit, loadStatus, loadDevices, loadPending, setValue } from './store.js';
import { showMap } from './map.js';
import { addView } from './add.js';
import { deviceView } from './device.js';

const main = $('#main');
let stream = null;
let firstRoute = true;

// ---- sign-in ----------------------------------------------------------------

function signinView() {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': 'token-hint token-error',
  });
  const error = h('p', { id: 'token-error', class: 'field-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', {}, 'Manage your duckling devices: approve new ones, control them and see them on a map.'),
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h('p', { id: 'token-hint', class: 'hint' },
      'duckling-gateway prints it once when it first starts; it is also in the file admin.token of its data directory. ' +
      'It is kept in this tab only, until you sign out or close the tab.'),
    error,
    button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    if (!t) {
      error.textContent = 'Enter the admin token.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      await api('GET', '/status', undefined, t);
      setToken(t);
      input.value = '';
      startSession();
      location.hash = '#/';
    } catch (e) {
      error.textContent = e.status === 401
        ? 'The gateway refused this token. Check it and try again.'
        : `Cannot sign in: ${errorText(e)}`;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// ---- session ------------------------------------------------------------------

function liveState(s) {
  const el = $('#live-state');
  el.hidden = false;
  el.dataset.state = s;
  el.textContent = s === 'live' ? 'Live' : s === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  el.title = s === 'live' ? 'Receiving live updates from the gateway' : 'Live updates are interrupted';
}

async function refreshAll() {
  await Promise.allSettled([loadStatus(), loadDevices(), loadPending()]);
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    loadDevices().catch(() => {});
    loadPending().catch(() => {});
  }, 150);
}

function startSession() {
  $('#nav').hidden = false;
  if (stream) stream.stop();
  stream = new EventStream({
    onState: liveState,
    onOpen: refreshAll, // anything missed while disconnected
    bootstrap: refreshSoon,
    oob: refreshSoon,
    device: refreshSoon,
    registration: refreshSoon,
    notification: (d) => setValue(d.endpoint, d.path, d.value, d.time),
    any: (type, d) => emit('event', { type, data: d }),
  });
  stream.start();
}

function endSession(message) {
  clearToken();
  if (stream) stream.stop();
  stream = null;
  store.devices.clear();
  store.pending = [];
  $('#nav').hidden = true;
  $('#live-state').hidden = true;
  if (message) toast(message);
  if (location.hash !== '#/signin') location.hash = '#/signin';
  else route();
}

onUnauthorized(() => endSession('The gateway no longer accepts your token: sign in again.'));
$('#signout').addEventListener('click', () => endSession('Signed out.'));

subscribe((what) => {
  if (what === 'pending') {
    const n = store.pending.length;
    const b = $('#pending-count');
    b.hidden = n === 0;
    b.textContent = n ? String(n) : '';
    b.setAttribute('aria-label', `${n} pending approval${n === 1 ? '' : 's'}`);
  }
});

// ---- home: pending requests and devices ---------------------------------------------

function pendingCard(r) {
  const rec = store.oob.get(r.endpoint);
  const dev = store.devices.get(r.endpoint);
  const type = (rec && rec.type) || (dev && dev.type) || '?';
  const labelCred = rec ? rec.cred_type : null;
  const decide = async (approve, btn) => {
    btn.disabled = true;
    try {
      await api('POST', `/pending/${encodeURIComponent(r.endpoint)}/${approve ? 'approve' : 'deny'}`);
      toast(`${r.endpoint} ${approve ? 'approved: it is being bootstrapped' : 'denied'}.`);
      await Promise.allSettled([loadPending(), loadDevices()]);
    } catch (e) {
      toast(`${approve ? 'Approve' : 'Deny'} ${r.endpoint}: ${errorText(e)}`);
      btn.disabled = false;
    }
  };
  const match = r.label_match;
  return h('li', { class: 'card pending', dataset: { endpoint: r.endpoint } },
    h('h3', {}, r.endpoint),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Endpoint'), h('dd', {}, r.endpoint),
      h('dt', {}, 'Type'), h('dd', {}, type),
      h('dt', {}, 'Credential'), h('dd', {}, CRED_TEXT[r.peer_cred_type] || r.peer_cred_type,
        labelCred && labelCred !== r.peer_cred_type ? ` (label says ${CRED_TEXT[labelCred] || labelCred})` : ''),
      h('dt', {}, 'Label'), h('dd', { class: match ? 'ok' : 'bad' },
        match ? '✓ matches the scanned label' : '✗ does not match the scanned label'),
      h('dt', {}, 'From'), h('dd', {}, r.peer || '?'),
      h('dt', {}, 'Asked'), h('dd', {}, timeEl(r.created, true)),
      h('dt', {}, 'Expires'), h('dd', {}, timeEl(r.expires))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', 'data-key': `approve-${r.endpoint}`,
        'aria-label': `Approve ${r.endpoint}`, disabled: !match, onclick: (e) => decide(true, e.currentTarget) }, 'Approve'),
      h('button', { type: 'button', 'data-key': `deny-${r.endpoint}`, 'aria-label': `Deny ${r.endpoint}`,
        onclick: (e) => decide(false, e.currentTarget) }, 'Deny')));
}

function deviceRow(d) {
  return h('li', { class: 'device-row', dataset: { endpoint: d.endpoint } },
    h('a', { href: `#/device/${encodeURIComponent(d.endpoint)}`, 'data-key': `dev-${d.endpoint}` },
      h('span', { class: 'ep' }, d.endpoint),
      h('span', { class: 'type' }, d.type || '')),
    stateBadge(d.state),
    h('span', { class: 'seen' }, 'seen ', timeEl(d.last_seen, true)));
}

// Bootstrap attempts the gateway refused (no label, wrong credential, denied):
// what it checked, so a user sees why a device does not show up as pending.
function refusedItem(time, ep, why) {
  return h('li', { dataset: { endpoint: ep || '' } }, timeEl(time, true), ' ', h('strong', {}, ep || '?'), ': ', why);
}

function homeView() {
  const refusedList = h('ul', { class: 'audit', id: 'refused-list' });
  const refusedSection = h('section', { 'aria-labelledby': 'refused-h', hidden: true },
    h('h2', { id: 'refused-h' }, 'Refused bootstrap attempts'), refusedList);
  const addRefused = (item, atTop) => {
    refusedSection.hidden = false;
    if (atTop) refusedList.prepend(item);
    else refusedList.append(item);
    while (refusedList.children.length > 5) refusedList.lastChild.remove();
  };
  api('GET', '/audit?limit=200')
    .then((r) => r.audit.filter((a) => a.event === 'bootstrap.refused').slice(0, 5)
      .forEach((a) => addRefused(refusedItem(a.time, a.endpoint, a.detail), false)))
    .catch(() => {});
  onCleanup(subscribe((what, d) => {
    if (what === 'event' && d.type === 'bootstrap' && d.data.action === 'refused') {
      addRefused(refusedItem(d.data.time, d.data.endpoint, d.data.reason || 'refused'), true);
    }
  }));
  const pendingList = h('ul', { class: 'cards', id: 'pending-list', 'aria-live': 'polite' });
  const devList = h('ul', { class: 'devices', id: 'device-list' });
  const engines = h('p', { class: 'notice', id: 'engines', hidden: true });
  const render = () => {
    replaceKeepFocus(pendingList, store.pending.length
      ? store.pending.map(pendingCard)
      : h('li', { class: 'empty' }, 'No device is waiting for approval. Devices whose label you added appear here when they ask to be bootstrapped.'));
    const devs = [...store.devices.values()].sort((a, b) => a.endpoint.localeCompare(b.endpoint));
    replaceKeepFocus(devList, devs.length
      ? devs.map(deviceRow)
      : h('li', { class: 'empty' }, 'No devices yet. ', h('a', { href: '#/add' }, 'Add a device'), ' by scanning its label.'));
    const st = store.status;
    if (st && (!st.bootstrap.available || !st.server.available)) {
      engines.hidden = false;
      engines.textContent = `Bootstrap Server: ${st.bootstrap.status}. LwM2M Server: ${st.server.status}.`;
    } else {
      engines.hidden = true;
    }
  };
  onCleanup(subscribe((what) => {
    if (what === 'pending' || what === 'devices' || what === 'status') render();
  }));
  render();
  refreshAll();
  return h('div', { class: 'view' },
    h('h1', { tabindex: '-1' }, 'Devices'),
    engines,
    h('section', { 'aria-labelledby': 'pending-h' },
      h('h2', { id: 'pending-h' }, 'Pending approval'),
      pendingList),
    refusedSection,
    h('section', { 'aria-labelledby': 'devices-h' },
      h('h2', { id: 'devices-h' }, 'All devices'),
      devList));
}

// ---- map --------------------------------------------------------------------------

function mapView() {
  const box = h('div', { class: 'map', id: 'map' });
  const view = h('div', { class: 'view' }, h('h1', { tabindex: '-1' }, 'Map'), box);
  (async () => {
    await Promise.allSettled([loadStatus(), loadDevices()]);
    if (!box.isConnected) return;
    const located = [...store.devices.values()].filter((d) => d.location);
    const tiles = store.status ? store.status.map_tiles : null;
    const res = await showMap(box, located, tiles);
    box.dataset.mode = res.mode;
  })();
  return view;
}

// ---- activity (audit log, live) ------------------------------------------------------

function auditItem(a) {
  return h('li', {},
    timeEl(a.time), ' ',
    h('strong', {}, a.event), a.endpoint ? ` ${a.endpoint}` : '', ': ', a.detail);
}

function activityView() {
  const list = h('ol', { class: 'audit', reversed: true });
  onCleanup(subscribe((what, d) => {
    if (what === 'event' && d.type === 'audit') list.prepend(auditItem(d.data));
  }));
  api('GET', '/audit?limit=50')
    .then((r) => clear(list).append(...r.audit.map(auditItem)))
    .catch((e) => list.append(h('li', {}, errorText(e))));
  return h('div', { class: 'view' },
    h('h1', { tabindex: '-1' }, 'Activity'),
    h('p', {}, 'What the gateway recorded (newest first; new entries appear live).'),
    list);
}

// ---- router -------------------------------------------------------------------------

function route() {
  runCleanup();
  const hash = location.hash || '#/';
  const signedIn = Boolean(getToken());
  let view;
  let nav = null;
  if (!signedIn) {
    if (hash !== '#/signin') {
      location.replace('#/signin');
      return;
    }
    view = signinView();
  } else if (hash === '#/signin') {
    location.replace('#/');
    return;
  } else if (hash === '#/' || hash === '#') {
    view = homeView();
    nav = 'home';
  } else if (hash === '#/add') {
    view = addView();
    nav = 'add';
  } else if (hash === '#/map') {
    view = mapView();
    nav = 'map';
  } else if (hash === '#/activity') {
    view = activityView();
    nav = 'activity';
  } else if (hash.startsWith('#/device/')) {
    view = deviceView(decodeURIComponent(hash.slice('#/device/'.length)));
    nav = 'home';
  } else {
    view = h('div', { class: 'view' }, h('h1', { tabindex: '-1' }, 'Not found'),
      h('p', {}, 'There is no such page. ', h('a', { href: '#/' }, 'Go to the devices.')));
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main).append(view);
  document.title = `${(view.querySelector('h1') || {}).textContent || 'duckling'} · duckling gateway`;
  // Move the focus to the new page's heading so keyboard and screen reader
  // users start there (not on the first load: the browser's own start is fine).
  const h1 = view.querySelector('h1');
  if (!firstRoute && h1) h1.focus();
  if (firstRoute && !signedIn) $('#token').focus();
  firstRoute = false;
}

// Relative times ("12 s ago") stay current.
setInterval(() => {
  for (const t of document.querySelectorAll('time[data-ago]')) t.textContent = ago(Number(t.dataset.ago));
}, 5000);

window.addEventListener('hashchange', route);
if (getToken()) startSession();
route();
