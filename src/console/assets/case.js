// A case page: what the case is, the actions an inspector may take (hand over,
// confirm, dismiss, each with a note), the reasons with value, threshold and
// meaning, a map of its track or serving cells, the SIMs and devices of a farm, the
// activity timeline, the audit trail, the evidence records and the package download.

import { api } from './api.js';
import { makeMap, drawCase, cellLayer } from './map.js';
import { h, fmtTime, fmtNum, kindBadge, statusBadge, subject, table, ACTION_LABEL, STATUS_LABEL } from './util.js';

// Renders the case into `el`; false when a newer render (a live update, another
// case) started meanwhile and this one gave way.
export async function renderCase(el, id, app) {
  const seq = (app.caseSeq = (app.caseSeq || 0) + 1);
  const current = () => seq === app.caseSeq;
  if (!el.querySelector('#case-title')) el.replaceChildren(h('p', { class: 'loading' }, 'Loading case ', id, '…'));
  let detail;
  try {
    detail = await api.case(id);
  } catch (e) {
    if (!current()) return false;
    el.replaceChildren(h('p', { class: 'error' }, e.message), h('a', { href: '#/' }, '← back to the map'));
    return true;
  }
  if (!current()) return false;
  const c = detail.case;
  const mapEl = h('div', { id: 'case-map', class: 'case-map' });
  const evidenceEl = h('div', { id: 'evidence' }, h('p', { class: 'loading' }, 'Reading the records behind the case…'));
  el.replaceChildren(
    h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← map and queue')),
    h('h1', { id: 'case-title' }, kindBadge(c.kind), ' ', h('span', { class: 'mono' }, c.case_id)),
    facts(c, app.config),
    actions(c, detail.allowed_next, app),
    h('div', { class: 'two' },
      h('section', {}, h('h2', {}, 'Why: the rules that fired'), reasons(detail.reasons)),
      h('section', {}, h('h2', {}, c.kind === 'fake_bts' ? 'Track and position' : 'Serving cells'), mapEl)),
    h('section', { id: 'audit' }, h('h2', {}, 'Audit trail'), audit(detail.history, c)),
    evidenceEl,
    h('p', {}, h('a', { id: 'package', class: 'button', href: api.packageUrl(c.case_id), download: '' }, 'Download the evidence package (.tar with SHA-256 manifest)')));
  if (app.caseMap) app.caseMap.remove();
  const map = makeMap(mapEl, app.config);
  app.caseMap = map;
  const cells = cellLayer(map, app.config);
  if (app.config.registered_cells) cells.addTo(map);
  const group = L.layerGroup().addTo(map);
  const pts = drawCase(group, c, null, null, { big: true });
  const fit = () => { if (pts.length) map.fitBounds(L.latLngBounds(pts), { padding: [20, 20], maxZoom: 16, animate: false }); };
  fit();
  let ev = null;
  try {
    ev = await api.evidence(c.case_id);
  } catch (e) {
    if (!current()) return false;
    evidenceEl.replaceChildren(h('p', { class: 'error' }, 'The records behind the case cannot be read: ', e.message));
  }
  if (!current()) return false;
  if (ev) {
    for (const o of ev.observations) {
      L.circleMarker([o.lat, o.lon], { radius: 2, color: '#1565c0', weight: 0, fillOpacity: 0.6, className: 'cw-obs' })
        .bindTooltip(`${fmtTime(o.ts)} ${o.signal_dbm ?? ''} dBm ${o.event}`).addTo(group);
      pts.push([o.lat, o.lon]);
    }
    evidenceEl.replaceChildren(...evidenceSections(c, ev));
  }
  if (pts.length) fit();
  else mapEl.append(h('p', { class: 'map-note' }, c.kind === 'fake_bts' ? 'no position estimated' : 'serving cells not placed: start the console with --cells FILE'));
  if (c.places && c.places.length === 0 && c.kind !== 'fake_bts' && !app.config.registered_cells) {
    mapEl.append(h('p', { class: 'map-note' }, 'no registered cells loaded (--cells): SIM cases cannot be placed'));
  }
  return true;
}

function facts(c, config) {
  const rows = [
    ['status', statusBadge(c.status)],
    ['score', fmtNum(c.score)],
    ['opened', fmtTime(c.opened_at)],
    ['evidence', `${fmtTime(c.first_seen)} → ${fmtTime(c.last_seen)} (${c.evidence_count} records)`],
    ['subject', subject(c)],
  ];
  if (c.location) rows.push(['position', `${c.location.lat.toFixed(5)}, ${c.location.lon.toFixed(5)} ± ${Math.round(c.location.radius_m)} m`]);
  if (c.track && c.track.length) rows.push(['track', `${c.track.length} positions`]);
  if (c.identities && c.identities.length) rows.push(['identities', c.identities.map((i) => `${i.rat} ${i.mcc}-${i.mnc}-${i.lac}-${i.cid}${i.arfcn != null ? ' ch ' + i.arfcn : ''}`).join('; ')]);
  rows.push(['source', config.store]);
  return h('dl', { id: 'facts', class: 'facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function actions(c, allowed, app) {
  const box = h('section', { id: 'actions', class: 'actions' }, h('h2', {}, 'Lifecycle'));
  const s = app.auth.session;
  if (!allowed.length) {
    box.append(h('p', {}, `This case is ${STATUS_LABEL[c.status]}: a final status.`));
    return box;
  }
  if (!s.user) {
    box.append(h('p', { id: 'actions-note' }, 'Log in as an inspector or admin to ', allowed.map((a) => ACTION_LABEL[a].toLowerCase()).join(' or '), ' this case.'));
    return box;
  }
  if (!s.can_change_status) {
    box.append(h('p', { id: 'actions-note' }, `Your role (${s.user.role}) can read cases but not change their status.`));
    return box;
  }
  const note = h('textarea', { id: 'note', name: 'note', rows: 2, cols: 60, maxlength: 4000, required: true, placeholder: 'why (kept in the audit trail)' });
  const err = h('p', { id: 'action-error', class: 'error' });
  const form = h('form', { id: 'action-form', class: 'action-form', onsubmit: (e) => e.preventDefault() },
    h('label', {}, 'Note ', note),
    h('div', { class: 'buttons' }, allowed.map((to) => h('button', {
      type: 'button', id: `action-${to}`, class: `action action-${to}`,
      onclick: async () => {
        err.textContent = '';
        if (!note.value.trim()) { err.textContent = 'Write a note first: it says why, in the audit trail.'; return; }
        try {
          await api.setStatus(c.case_id, to, note.value);
          app.refresh();
        } catch (e) {
          err.textContent = e.message;
        }
      },
    }, ACTION_LABEL[to]))),
    err);
  box.append(form);
  return box;
}

function reasons(list) {
  return table(['rule', 'value', 'threshold', 'what it means'],
    list.map((r) => [h('code', {}, r.code), fmtNum(r.value), fmtNum(r.threshold), r.meaning || '']), 'grid reasons');
}

function audit(history, c) {
  if (!history.length) return h('p', { id: 'audit-empty' }, `No status change yet: the case is ${STATUS_LABEL[c.status]} as the detector opened it.`);
  return table(['when', 'change', 'by', 'note'],
    history.map((x) => [fmtTime(x.changed_at), `${STATUS_LABEL[x.from_status]} → ${STATUS_LABEL[x.to_status]}`, h('span', { class: 'actor' }, x.actor), h('span', { class: 'note' }, x.note)]),
    'grid audit-table');
}

function svgFrom(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  return root && root.nodeName === 'svg' ? document.importNode(root, true) : h('p', {}, 'no timeline');
}

// Observations over time, one bar per time bucket (fake base stations).
function observationTimeline(obs) {
  if (!obs.length) return h('p', {}, 'no observations');
  const t0 = Math.min(...obs.map((o) => o.ts));
  const t1 = Math.max(...obs.map((o) => o.ts));
  const n = 60;
  const step = Math.max(1, (t1 - t0) / n);
  const counts = new Array(n).fill(0);
  for (const o of obs) counts[Math.min(n - 1, Math.floor((o.ts - t0) / step))] += 1;
  const max = Math.max(...counts);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 1000 120');
  svg.setAttribute('class', 'obs-timeline');
  counts.forEach((k, i) => {
    const r = document.createElementNS(ns, 'rect');
    const hgt = (k / max) * 90;
    r.setAttribute('x', String(i * (1000 / n) + 1));
    r.setAttribute('y', String(95 - hgt));
    r.setAttribute('width', String(1000 / n - 2));
    r.setAttribute('height', String(hgt));
    r.setAttribute('fill', '#1565c0');
    svg.append(r);
  });
  for (const [x, anchor, t] of [[0, 'start', t0], [1000, 'end', t1]]) {
    const tx = document.createElementNS(ns, 'text');
    tx.setAttribute('x', String(x));
    tx.setAttribute('y', '115');
    tx.setAttribute('font-size', '12');
    tx.setAttribute('text-anchor', anchor);
    tx.textContent = fmtTime(t);
    svg.append(tx);
  }
  return svg;
}

function evidenceSections(c, ev) {
  const out = [];
  if (c.kind !== 'fake_bts') {
    out.push(h('section', { id: 'members' }, h('h2', {}, `Members (${ev.members.length})`),
      table(['SIM', 'records', 'SMS sent', 'devices', 'cells', 'first', 'last'],
        ev.members.map((m) => [h('code', {}, m.sim), m.records, m.sms_out, m.devices.map((d) => d.slice(0, 12)).join(' '), m.cells.join(' '), fmtTime(m.first), fmtTime(m.last)]))));
    out.push(h('section', { id: 'devices' }, h('h2', {}, `Devices (${ev.devices.length})`),
      table(['device (IMEI pseudonym)', 'TAC', 'SIMs used in it'], ev.devices.map((d) => [h('code', {}, d.device), d.tac || '', d.sims]))));
    out.push(h('section', { id: 'cells' }, h('h2', {}, 'Serving cells'),
      table(['cell', 'records', 'SIMs', 'registered site'], ev.cells.map((x) => [h('code', {}, x.cell), x.records, x.sims, x.lat != null ? `${x.lat.toFixed(5)}, ${x.lon.toFixed(5)}` : 'not in the registered cells given']))));
    out.push(h('section', { id: 'timeline' }, h('h2', {}, 'Activity timeline'), svgFrom(ev.timeline_svg),
      h('p', { class: 'caption' }, 'One row per SIM (most active first), one bar per reporting interval; darker = more SMS sent.')));
  } else {
    out.push(h('section', { id: 'timeline' }, h('h2', {}, `Activity timeline: ${ev.observations_total} observations`), observationTimeline(ev.observations)));
  }
  out.push(h('section', { id: 'records' }, h('h2', {}, `Evidence records (${ev.truncated ? `first ${ev.records.length} of ` : ''}${ev.total_records})`),
    table(['event time', 'feed', 'source', 'record'], ev.records.map((r) => [fmtTime(r.event_time), r.feed, h('code', {}, r.source), h('code', { class: 'record' }, JSON.stringify(r.record))]), 'grid records-table')));
  return out;
}
