// The map of devices that report a Location (/6). With a tile URL from the
// gateway (--map-tiles) it is a Leaflet map (vendored from npm into
// vendor/leaflet/, BSD-2-Clause); when no tile URL is set, Leaflet cannot be
// loaded or the tiles do not load (no internet), it is a plain plot of the
// coordinates, drawn as SVG, so the devices are always shown.

import { h, clear, loadScript, loadStyle } from './util.js';

const LEAFLET_JS = 'vendor/leaflet/leaflet.js';
const LEAFLET_CSS = 'vendor/leaflet/leaflet.css';
const TILE_TIMEOUT_MS = 4000;

// container: an empty element. devices: [{endpoint, state, location:{lat,lon}}]
// (only those with a location). Resolves to {mode: 'tiles'|'plot', reason}
// once it knows which; the plot is shown at once while tiles are tried.
export async function showMap(container, devices, tileUrl, onOpen) {
  const status = h('p', { class: 'map-status', role: 'status' });
  const area = h('div', { class: 'map-area' });
  clear(container).append(status, area);
  if (!devices.length) {
    status.textContent = 'No device has reported a location (object 6) yet.';
    area.hidden = true;
    return { mode: 'plot', reason: 'no locations' };
  }
  if (!tileUrl) {
    status.textContent = 'No map tile server is configured (gateway option --map-tiles): plain coordinate plot.';
    plot(area, devices, onOpen);
    return { mode: 'plot', reason: 'no tile server' };
  }
  try {
    loadStyle(LEAFLET_CSS);
    await loadScript(LEAFLET_JS);
  } catch (e) {
    status.textContent = 'The map library could not be loaded: plain coordinate plot.';
    plot(area, devices, onOpen);
    return { mode: 'plot', reason: 'no leaflet' };
  }
  status.textContent = 'Loading map tiles…';
  const mapEl = h('div', { class: 'leaflet-box', role: 'region', 'aria-label': 'Map of devices' });
  clear(area).append(mapEl);
  const L = window.L;
  const map = L.map(mapEl, { attributionControl: true });
  const layer = L.tileLayer(tileUrl, { maxZoom: 19, attribution: 'Map tiles: ' + new URL(tileUrl.replace('{s}.', 'a.'), location.href).host });
  const bounds = L.latLngBounds(devices.map((d) => [d.location.lat, d.location.lon]));
  for (const d of devices) {
    const m = L.marker([d.location.lat, d.location.lon], { title: d.endpoint, alt: d.endpoint, keyboard: true });
    m.bindPopup(() => {
      const a = h('a', { href: `#/device/${encodeURIComponent(d.endpoint)}` }, d.endpoint);
      return h('div', {}, a, h('br'), `${d.state} · ${fmtCoord(d.location.lat, d.location.lon)}`);
    });
    m.addTo(map);
  }
  map.fitBounds(bounds.pad(0.3), { maxZoom: 16 });
  return new Promise((resolve) => {
    let loaded = 0;
    let failed = 0;
    let done = false;
    const fallback = (why) => {
      if (done) return;
      done = true;
      map.remove();
      status.textContent = `Map tiles could not be loaded (${why}): plain coordinate plot.`;
      plot(area, devices, onOpen);
      resolve({ mode: 'plot', reason: why });
    };
    const timer = setTimeout(() => fallback('no tile arrived in time'), TILE_TIMEOUT_MS);
    layer.on('tileload', () => {
      loaded++;
      if (!done) {
        done = true;
        clearTimeout(timer);
        status.textContent = `${devices.length} device${devices.length === 1 ? '' : 's'} on the map.`;
        resolve({ mode: 'tiles' });
      }
    });
    layer.on('tileerror', () => {
      failed++;
      if (!loaded && failed >= 2) {
        clearTimeout(timer);
        fallback('the tile server cannot be reached');
      }
    });
    layer.addTo(map);
  });
}

function fmtCoord(lat, lon) {
  const ns = lat >= 0 ? 'N' : 'S';
  const ew = lon >= 0 ? 'E' : 'W';
  return `${Math.abs(lat).toFixed(5)}° ${ns}, ${Math.abs(lon).toFixed(5)}° ${ew}`;
}

// A plain plot: longitude across, latitude up, equirectangular around the
// devices' mean latitude, with a grid and each device a labelled point that
// links to its page. A table lists the same for screen readers and keyboards.
function plot(area, devices, onOpen) {
  clear(area);
  area.hidden = false;
  // User units are about pixels: text stays readable on a phone.
  const W = Math.round(Math.max(320, Math.min(800, (area.clientWidth || 640) - 16)));
  const H = Math.round(Math.max(300, Math.min(480, W * 0.62)));
  const M = 48; // top and right
  const ML = 84; // left: latitude labels
  const MB = 46; // bottom: longitude labels
  const lats = devices.map((d) => d.location.lat);
  const lons = devices.map((d) => d.location.lon);
  let [la0, la1] = [Math.min(...lats), Math.max(...lats)];
  let [lo0, lo1] = [Math.min(...lons), Math.max(...lons)];
  // At least ~200 m of span, then 15 % margins.
  const minSpan = 0.002;
  if (la1 - la0 < minSpan) [la0, la1] = [(la0 + la1) / 2 - minSpan / 2, (la0 + la1) / 2 + minSpan / 2];
  if (lo1 - lo0 < minSpan) [lo0, lo1] = [(lo0 + lo1) / 2 - minSpan / 2, (lo0 + lo1) / 2 + minSpan / 2];
  const k = Math.cos((((la0 + la1) / 2) * Math.PI) / 180) || 1;
  // Keep the aspect ratio of the ground: widen the shorter side.
  const spanX = (lo1 - lo0) * k;
  const spanY = la1 - la0;
  const want = (W - ML - M) / (H - M - MB);
  if (spanX / spanY < want) {
    const add = (spanY * want - spanX) / k / 2;
    lo0 -= add;
    lo1 += add;
  } else {
    const add = (spanX / want - spanY) / 2;
    la0 -= add;
    la1 += add;
  }
  const padLo = (lo1 - lo0) * 0.12;
  const padLa = (la1 - la0) * 0.12;
  lo0 -= padLo; lo1 += padLo; la0 -= padLa; la1 += padLa;
  const x = (lon) => ML + ((lon - lo0) / (lo1 - lo0)) * (W - ML - M);
  const y = (lat) => H - MB - ((lat - la0) / (la1 - la0)) * (H - M - MB);
  const span = Math.max(lo1 - lo0, la1 - la0);
  const dec = span > 20 ? 0 : span > 2 ? 1 : span > 0.2 ? 2 : span > 0.02 ? 3 : 4;

  const svg = h('svg:svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'plot',
    role: 'img',
    'aria-labelledby': 'plot-title',
  });
  svg.append(h('svg:title', { id: 'plot-title' }, `Plot of ${devices.length} device location${devices.length === 1 ? '' : 's'} (longitude across, latitude up)`));
  svg.append(h('svg:rect', { x: ML, y: M, width: W - ML - M, height: H - M - MB, class: 'plot-frame' }));
  const ticks = W < 520 ? 2 : 4; // fewer labels where they would overlap
  for (let i = 0; i <= ticks; i++) {
    const lon = lo0 + ((lo1 - lo0) * i) / ticks;
    const lat = la0 + ((la1 - la0) * i) / ticks;
    svg.append(h('svg:line', { x1: x(lon), y1: M, x2: x(lon), y2: H - MB, class: 'plot-grid' }));
    svg.append(h('svg:line', { x1: ML, y1: y(lat), x2: W - M, y2: y(lat), class: 'plot-grid' }));
    svg.append(h('svg:text', { x: x(lon), y: H - MB + 16, class: 'plot-axis', 'text-anchor': 'middle' }, `${lon.toFixed(dec)}°`));
    svg.append(h('svg:text', { x: ML - 6, y: y(lat) + 4, class: 'plot-axis', 'text-anchor': 'end' }, `${lat.toFixed(dec)}°`));
  }
  svg.append(h('svg:text', { x: (ML + W - M) / 2, y: H - 8, class: 'plot-label', 'text-anchor': 'middle' }, 'longitude'));
  svg.append(h('svg:text', { x: 14, y: (M + H - MB) / 2, class: 'plot-label', 'text-anchor': 'middle', transform: `rotate(-90 14 ${(M + H - MB) / 2})` }, 'latitude'));
  for (const d of devices) {
    const px = x(d.location.lon);
    const py = y(d.location.lat);
    const g = h('svg:a', { href: `#/device/${encodeURIComponent(d.endpoint)}`, class: `plot-point state-${d.state}`, 'aria-label': `${d.endpoint}, ${fmtCoord(d.location.lat, d.location.lon)}` },
      h('svg:circle', { cx: px, cy: py, r: 7 }),
      // Names go on the side of the point that has room.
      h('svg:text', px > W / 2 ? { x: px - 10, y: py - 10, class: 'plot-name', 'text-anchor': 'end' } : { x: px + 10, y: py - 10, class: 'plot-name' }, d.endpoint));
    svg.append(g);
  }
  area.append(svg);
  if (devices.length) {
    const rows = devices.map((d) =>
      h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: `#/device/${encodeURIComponent(d.endpoint)}` }, d.endpoint)),
        h('td', {}, d.location.lat.toFixed(6)),
        h('td', {}, d.location.lon.toFixed(6)),
        h('td', {}, d.state)));
    area.append(h('table', { class: 'coords' },
      h('caption', {}, 'Device locations'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Latitude'), h('th', { scope: 'col' }, 'Longitude'), h('th', { scope: 'col' }, 'State'))),
      h('tbody', {}, rows)));
  }
  if (onOpen) onOpen();
}
