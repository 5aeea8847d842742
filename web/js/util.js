// DOM and formatting helpers. Text from the gateway (endpoint names, types,
// values) only ever goes into text nodes and attributes, never into HTML.

// h('button', {class: 'x', onclick: fn}, 'text', child, ...)
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

// Unix seconds → "2024-05-01 12:34:56" in local time.
export function fmtTime(t) {
  if (!t) return 'never';
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// "12 s ago", "3 min ago", "2 h ago", "4 days ago".
export function ago(t, now = Date.now() / 1000) {
  if (!t) return 'never';
  const s = Math.max(0, Math.round(now - t));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

// A <time> element with the absolute time as text and the relative one in
// its title (and the other way round when relative is true).
export function timeEl(t, relative = false) {
  if (!t) return h('span', { class: 'muted' }, 'never');
  const iso = new Date(t * 1000).toISOString();
  return relative
    ? h('time', { datetime: iso, title: fmtTime(t), dataset: { ago: t } }, ago(t))
    : h('time', { datetime: iso, title: ago(t) }, fmtTime(t));
}

// Loads a classic script from our own origin once (vendored libraries are
// UMD bundles that set a global).
const scripts = new Map();
export function loadScript(src) {
  if (!scripts.has(src)) {
    scripts.set(
      src,
      new Promise((resolve, reject) => {
        const s = h('script', { src });
        s.onload = () => resolve();
        s.onerror = () => {
          scripts.delete(src);
          reject(new Error(`${src} could not be loaded`));
        };
        document.head.append(s);
      }),
    );
  }
  return scripts.get(src);
}

export function loadStyle(href) {
  if (!document.querySelector(`link[href="${href}"]`)) {
    document.head.append(h('link', { rel: 'stylesheet', href }));
  }
}

export const STATE_TEXT = {
  expected: 'Label scanned, waiting for the device',
  pending: 'Waiting for your approval',
  approved: 'Approved, bootstrapping',
  bootstrapped: 'Bootstrapped, registering',
  registered: 'Registered',
  offline: 'Offline',
  reset: 'Factory reset',
};

export function stateBadge(state) {
  return h('span', { class: `state state-${state}`, title: STATE_TEXT[state] || state }, state);
}

export const CRED_TEXT = {
  none: 'no security',
  psk: 'pre-shared key',
  rpk: 'raw public key',
  x509: 'X.509 certificate',
};
