// Names of the LwM2M objects and resources duckling devices carry (DESIGN
// §4), for the objects tree. Unknown ones are shown by number.

export const OBJECTS = {
  0: { name: 'Security' },
  1: { name: 'Server', res: { 0: 'Short Server ID', 1: 'Lifetime', 7: 'Binding', 8: 'Registration Update Trigger' } },
  2: { name: 'Access Control' },
  3: {
    name: 'Device',
    res: {
      0: 'Manufacturer', 1: 'Model Number', 2: 'Serial Number', 3: 'Firmware Version',
      4: 'Reboot', 5: 'Factory Reset', 11: 'Error Code', 13: 'Current Time',
      16: 'Supported Binding', 17: 'Device Type', 18: 'Hardware Version', 19: 'Software Version',
    },
    exec: [4, 5],
  },
  4: { name: 'Connectivity Monitoring' },
  5: { name: 'Firmware Update' },
  6: { name: 'Location', res: { 0: 'Latitude', 1: 'Longitude', 2: 'Altitude', 5: 'Timestamp' } },
  12: { name: 'WLAN Connectivity', res: { 0: 'Interface Name', 1: 'Enable', 4: 'Status', 6: 'SSID' } },
  3301: { name: 'Illuminance', res: { 5700: 'Sensor Value', 5701: 'Sensor Units', 5601: 'Min Measured', 5602: 'Max Measured' } },
  3303: { name: 'Temperature', res: { 5700: 'Sensor Value', 5701: 'Sensor Units', 5601: 'Min Measured', 5602: 'Max Measured' } },
  3311: { name: 'Light Control', res: { 5850: 'On/Off', 5851: 'Dimmer', 5706: 'Colour', 5701: 'Sensor Units', 5852: 'On Time' } },
};

export function objectName(id) {
  const o = OBJECTS[id];
  return o ? o.name : `Object ${id}`;
}

export function resourceName(obj, res) {
  const o = OBJECTS[obj];
  return (o && o.res && o.res[res]) || `Resource ${res}`;
}

// Parses a registration's CoRE link format object list ("</1/0>,</3/0>;ver=1.1,</3311/0>")
// into [{id, instances: [ids]}] sorted by id. Objects without instances
// ("</5>") are listed with none. Bad entries are skipped.
export function parseObjectLinks(links) {
  const objs = new Map();
  for (const part of (links || '').split(',')) {
    const m = /^\s*<\/?([0-9/]*)>/.exec(part);
    if (!m) continue;
    const ids = m[1].split('/').filter((x) => x !== '').map(Number);
    if (!ids.length || ids.some((x) => !Number.isInteger(x) || x > 65535)) continue;
    if (!objs.has(ids[0])) objs.set(ids[0], new Set());
    if (ids.length > 1) objs.get(ids[0]).add(ids[1]);
  }
  return [...objs.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([id, inst]) => ({ id, instances: [...inst].sort((a, b) => a - b) }));
}

// Observed resources the device page shows as live values.
export const LIVE = [
  { path: '/3303/0/5700', label: 'Temperature', unit: '°C' },
  { path: '/3301/0/5700', label: 'Illuminance', unit: 'lx' },
];
