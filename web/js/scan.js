// Reading a QR label: the browser's BarcodeDetector where it has one
// (Android, ChromeOS, macOS), otherwise jsQR (vendored from npm into
// vendor/jsqr/, Apache-2.0). From the camera or from a photo.

import { loadScript } from './util.js';

const JSQR = 'vendor/jsqr/jsQR.js';

async function barcodeDetector() {
  if (!('BarcodeDetector' in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    return formats.includes('qr_code') ? new window.BarcodeDetector({ formats: ['qr_code'] }) : null;
  } catch (e) {
    return null;
  }
}

// Returns an async function(source) → text or null, where source is a
// video element or an ImageBitmap; and the name of the decoder.
export async function makeDecoder() {
  const bd = await barcodeDetector();
  if (bd) {
    return {
      name: 'BarcodeDetector',
      decode: async (source) => {
        const codes = await bd.detect(source);
        return codes.length ? codes[0].rawValue : null;
      },
    };
  }
  await loadScript(JSQR);
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  return {
    name: 'jsQR',
    decode: async (source) => {
      const w = source.videoWidth || source.width;
      const h = source.videoHeight || source.height;
      if (!w || !h) return null;
      // Large photos are scaled down: jsQR's time grows with the pixels.
      const scale = Math.min(1, 1024 / Math.max(w, h));
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
      return code ? code.data : null;
    },
  };
}

export function cameraAvailable() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

// Scans from the camera into video until a QR code is read (onText(text)),
// stop() is called, or an error occurs (rejects). Returns {stop, decoder}.
export async function startCamera(video, onText) {
  if (!cameraAvailable()) {
    throw new Error(
      window.isSecureContext
        ? 'this browser gives no camera access'
        : 'the camera needs a secure page (https:// or localhost); paste the label text or read a photo instead',
    );
  }
  const decoder = await makeDecoder();
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: 'environment' },
    audio: false,
  });
  let stopped = false;
  let timer = null;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    stream.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
  };
  video.srcObject = stream;
  await video.play();
  const tick = async () => {
    if (stopped) return;
    let text = null;
    try {
      text = await decoder.decode(video);
    } catch (e) {
      text = null;
    }
    if (stopped) return;
    if (text) {
      stop();
      onText(text);
      return;
    }
    timer = setTimeout(tick, 200);
  };
  tick();
  return { stop, decoder: decoder.name };
}

// Reads a QR code from an image file (a photo of the label). Resolves to the
// text, or rejects when there is none.
export async function readImageFile(file) {
  const bitmap = await createImageBitmap(file);
  try {
    const decoder = await makeDecoder();
    const text = await decoder.decode(bitmap);
    if (!text) throw new Error('no QR code found in this picture');
    return text;
  } finally {
    bitmap.close();
  }
}
