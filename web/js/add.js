// Adding a device: its QR label from the camera, from a photo, or typed or
// pasted. The gateway checks the label (POST /api/oob) and its field-level
// error is shown at once. The label may carry the device's PSK: the text is
// cleared once the gateway has it and is never stored by the page.

import { api, enc } from './api.js';
import { h, clear, timeEl, CRED_TEXT } from './util.js';
import { toast, confirmDialog, replaceKeepFocus, onCleanup, errorText } from './ui.js';
import { store, subscribe, loadPending, loadDevices } from './store.js';
import { startCamera, cameraAvailable, readImageFile } from './scan.js';

const FIELD_TEXT = {
  message: 'the label as a whole',
  version: 'the format version (first field)',
  endpoint: 'the endpoint name (EP:…)',
  type: 'the device type (T:…)',
  channel: 'the in-band channel',
  'channel-credentials': 'the set-up Wi-Fi credentials',
  'cred-type': 'the credential type',
  'cred-value': 'the credential value',
  checksum: 'the checksum (last field)',
  end: 'the end of the label (it ends with ;;)',
};

export function addView() {
  const text = h('textarea', {
    id: 'label', name: 'label', rows: 3, required: true, spellcheck: 'false', autocomplete: 'off',
    autocapitalize: 'off', 'aria-describedby': 'label-hint label-error',
  });
  const error = h('div', { id: 'label-error', class: 'field-error', role: 'alert' });
  const done = h('div', { id: 'label-done', class: 'done', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add device');
  const form = h('form', { class: 'card', novalidate: true, id: 'label-form' },
    h('h2', {}, 'Type or paste the label text'),
    h('label', { for: 'label' }, 'Label text'),
    text,
    h('p', { id: 'label-hint', class: 'hint' },
      'The text printed under the QR code, for example ',
      h('code', {}, '01;EP:055192;T:LED;WIFI;WPA2-PSK:…;03;367f…;34;;'),
      '. The last number is a checksum that catches typing mistakes.'),
    error,
    h('div', { class: 'actions' }, submit));

  const showError = (e) => {
    clear(error);
    done.textContent = '';
    text.setAttribute('aria-invalid', 'true');
    error.dataset.field = e.field || '';
    if (e.field) {
      const msg = e.message.replace(/^bad label:\s*/, '').replace(`${e.field}: `, '');
      error.append(
        h('strong', {}, `Problem with ${FIELD_TEXT[e.field] || e.field}: `),
        h('span', { class: 'msg' }, msg));
    } else {
      error.append(h('span', { class: 'msg' }, errorText(e)));
    }
  };

  const send = async (label, how) => {
    clear(error);
    delete error.dataset.field;
    text.removeAttribute('aria-invalid');
    done.textContent = '';
    if (!label.trim()) {
      showError(new Error('Enter the label text, scan the QR code or read a photo of it.'));
      text.focus();
      return;
    }
    submit.disabled = true;
    try {
      const r = await api('POST', '/oob', { label });
      text.value = '';
      clear(done).append(
        h('strong', {}, r.created_now ? `Added ${r.endpoint}` : `${r.endpoint} was already added`),
        ` (${r.type}, ${CRED_TEXT[r.cred_type] || r.cred_type}${how ? `, ${how}` : ''}). `,
        'Turn the device on: when it asks to be bootstrapped it appears under ',
        h('a', { href: '#/' }, 'Pending approval'), '. ',
        h('a', { href: `#/device/${enc(r.endpoint)}` }, `Open ${r.endpoint}`), '.');
      done.scrollIntoView({ block: 'nearest' });
      toast(`Label of ${r.endpoint} added.`);
      loadRecords();
      loadDevices().catch(() => {});
    } catch (e) {
      showError(e);
      text.focus();
    } finally {
      submit.disabled = false;
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    send(text.value, '');
  });

  // ---- camera ----
  const video = h('video', { class: 'camera', muted: true, playsinline: true, hidden: true, 'aria-label': 'Camera view' });
  const camStatus = h('p', { class: 'hint', role: 'status', id: 'camera-status' });
  const camButton = h('button', { type: 'button', id: 'camera-button' }, 'Start camera');
  let cam = null;
  const stopCam = () => {
    if (cam) cam.stop();
    cam = null;
    video.hidden = true;
    camButton.textContent = 'Start camera';
  };
  onCleanup(stopCam);
  camButton.addEventListener('click', async () => {
    if (cam) {
      stopCam();
      camStatus.textContent = 'Camera stopped.';
      return;
    }
    camStatus.textContent = 'Starting the camera…';
    let read = false;
    try {
      video.hidden = false;
      const started = await startCamera(video, (t) => {
        read = true;
        stopCam();
        camStatus.textContent = 'QR code read.';
        text.value = t;
        send(t, 'scanned');
      });
      if (read) return; // read in the very first frame: already stopped
      cam = started;
      camButton.textContent = 'Stop camera';
      camStatus.textContent = `Point the camera at the QR code on the device (decoder: ${cam.decoder}).`;
    } catch (e) {
      stopCam();
      camStatus.textContent = `No camera: ${e.name === 'NotAllowedError' ? 'access was refused' : errorText(e)}.`;
    }
  });
  if (!cameraAvailable()) {
    camStatus.textContent = window.isSecureContext
      ? 'This browser gives no camera access: read a photo or type the text.'
      : 'The camera needs a secure page (https:// or localhost): read a photo or type the text.';
  }

  // ---- photo ----
  const photo = h('input', { type: 'file', id: 'photo', accept: 'image/*', capture: 'environment', 'aria-describedby': 'photo-status' });
  const photoStatus = h('p', { class: 'hint', role: 'status', id: 'photo-status' });
  photo.addEventListener('change', async () => {
    const f = photo.files && photo.files[0];
    if (!f) return;
    photoStatus.textContent = 'Reading the QR code…';
    try {
      const t = await readImageFile(f);
      photoStatus.textContent = 'QR code read.';
      text.value = t;
      await send(t, 'read from a photo');
    } catch (e) {
      photoStatus.textContent = `Could not read a QR code: ${errorText(e)}.`;
    } finally {
      photo.value = '';
    }
  });

  // ---- labels on record ----
  const records = h('ul', { class: 'records', id: 'records' });
  const renderRecords = () => {
    const list = [...store.oob.values()].sort((a, b) => a.endpoint.localeCompare(b.endpoint));
    replaceKeepFocus(records, list.length ? list.map(recordItem) : h('li', { class: 'empty' }, 'No labels yet.'));
  };
  const loadRecords = () => loadPending().catch(() => {});
  onCleanup(subscribe((what) => what === 'pending' && renderRecords()));
  renderRecords();
  loadRecords();

  return h('div', { class: 'view' },
    h('h1', { tabindex: '-1' }, 'Add a device'),
    h('p', {}, 'Scan the QR label on the device or its box. The gateway then lets this device — and no other — ask to be bootstrapped.'),
    h('div', { class: 'grid2' },
      h('section', { class: 'card', 'aria-labelledby': 'scan-h' },
        h('h2', { id: 'scan-h' }, 'Scan the QR code'),
        h('div', { class: 'actions' }, camButton),
        video,
        camStatus,
        h('label', { for: 'photo' }, 'Or read a photo of the label'),
        photo,
        photoStatus),
      form),
    done,
    h('section', { 'aria-labelledby': 'records-h' },
      h('h2', { id: 'records-h' }, 'Labels on record'),
      records));
}

function recordItem(r) {
  const del = async () => {
    const ok = await confirmDialog(`Delete the label of ${r.endpoint}?`,
      'The device can no longer ask to be bootstrapped until its label is added again. A device that is already working is not affected.',
      'Delete label');
    if (!ok) return;
    try {
      await api('DELETE', `/oob/${enc(r.endpoint)}`);
      toast(`Label of ${r.endpoint} deleted.`);
      loadPending().catch(() => {});
      loadDevices().catch(() => {});
    } catch (e) {
      toast(`Delete ${r.endpoint}: ${errorText(e)}`);
    }
  };
  return h('li', { class: 'record', dataset: { endpoint: r.endpoint } },
    h('a', { href: `#/device/${enc(r.endpoint)}` }, r.endpoint),
    h('span', {}, `${r.type} · ${r.channel}${r.setup_ssid ? ` (${r.setup_ssid})` : ''} · ${CRED_TEXT[r.cred_type] || r.cred_type}`),
    h('span', { class: 'muted' }, 'added ', timeEl(r.created, true)),
    h('button', { type: 'button', class: 'small', 'data-key': `del-${r.endpoint}`, 'aria-label': `Delete the label of ${r.endpoint}`, onclick: del }, 'Delete'));
}
