// Small UI pieces the views share: messages, the confirmation dialog,
// focus-keeping list updates and per-view clean-up.

import { ApiError } from './api.js';
import { clear, $ } from './util.js';

let cleanup = []; // what the current view must undo when it goes

export function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 5000);
}

// Asks in a modal <dialog>; resolves true on confirm. Cancel has the focus.
export function confirmDialog(title, text, okText) {
  const dlg = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okText;
  dlg.returnValue = '';
  const opener = document.activeElement;
  dlg.showModal();
  $('#confirm-cancel').focus();
  return new Promise((resolve) => {
    dlg.addEventListener(
      'close',
      () => {
        if (opener && opener.isConnected) opener.focus();
        resolve(dlg.returnValue === 'ok');
      },
      { once: true },
    );
  });
}

// Replaces el's children, keeping the keyboard focus on the element with
// the same data-key when there is one.
export function replaceKeepFocus(el, ...children) {
  const a = document.activeElement;
  const key = a && el.contains(a) ? a.dataset.key : null;
  clear(el).append(...children.flat().filter(Boolean));
  if (key) {
    const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

export function onCleanup(fn) {
  cleanup.push(fn);
}

export function errorText(e) {
  return e instanceof ApiError || e instanceof Error ? e.message : String(e);
}

export function runCleanup() {
  for (const fn of cleanup) fn();
  cleanup = [];
}
