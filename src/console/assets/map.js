// Maps with Leaflet (vendored, global L): the overview map of cases with the
// registered-cell layer, and the same drawing code for a case page's map. Without
// a tile URL there is no base map: cases and registered cells are drawn on a blank
// background and nothing is fetched from outside.

import { api } from './api.js';
import { h, fmtTime, fmtNum, kindBadge, statusBadge, subject, shortId, debounce } from './util.js';

const COLORS = { fake_bts: '#c62828', sim_farm: '#6a1b9a', spam_sim: '#ef6c00', cell: '#607d8b', obs: '#1565c0' };

// A Leaflet map in `el` with the configured base map (or none) and a scale.
export function makeMap(el, config) {
  const map = L.map(el, { preferCanvas: false, zoomSnap: 0.25, worldCopyJump: true });
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { maxZoom: 19, attribution: config.tile_attribution || '' }).addTo(map);
  } else {
    map.attributionControl.addAttribution('no base map: cases and registered cells only');
  }
  L.control.scale({ imperial: false }).addTo(map);
  map.setView([0, 0], 2);
  return map;
}

function caseLink(c) {
  return h('a', { href: '#/case/' + encodeURIComponent(c.case_id) }, shortId(c.case_id));
}

function popup(c, extra) {
  return h('div', { class: 'popup' },
    h('div', {}, kindBadge(c.kind), ' ', statusBadge(c.status)),
    h('div', { class: 'mono' }, caseLink(c)),
    h('div', {}, subject(c)),
    h('div', {}, 'score ', fmtNum(c.score), ' · last seen ', fmtTime(c.last_seen)),
    extra ? h('div', {}, extra) : null);
}

// The track points inside [since, until] (null = unbounded).
function trackIn(c, since, until) {
  return (c.track || []).filter((p) => (since == null || p.ts >= since) && (until == null || p.ts <= until));
}

// Draw one case into `group`; returns the points it covers (for fitting the view).
export function drawCase(group, c, since, until, opts = {}) {
  const pts = [];
  if (c.kind === 'fake_bts') {
    const track = trackIn(c, since, until);
    if (track.length >= 2) {
      const line = track.map((p) => [p.lat, p.lon]);
      L.polyline(line, { color: COLORS.fake_bts, weight: 3, opacity: 0.85, className: 'cw-track' })
        .bindPopup(() => popup(c, `track: ${track.length} positions, ${fmtTime(track[0].ts)} → ${fmtTime(track[track.length - 1].ts)}`))
        .addTo(group);
      for (const p of track) {
        L.circleMarker([p.lat, p.lon], { radius: 2, color: COLORS.fake_bts, weight: 1, fillOpacity: 0.9, className: 'cw-track-point' })
          .bindTooltip(fmtTime(p.ts)).addTo(group);
      }
      pts.push(...line);
    }
    const latest = until == null || until >= c.last_seen;
    let at = null;
    if (latest && c.location) at = { lat: c.location.lat, lon: c.location.lon, r: c.location.radius_m };
    else if (track.length) at = { lat: track[track.length - 1].lat, lon: track[track.length - 1].lon, r: null };
    else if (c.location && (c.track || []).length === 0) at = { lat: c.location.lat, lon: c.location.lon, r: c.location.radius_m };
    if (at) {
      if (at.r) {
        L.circle([at.lat, at.lon], { radius: at.r, color: COLORS.fake_bts, weight: 1, dashArray: '4 4', fillOpacity: 0.08, className: 'cw-uncertainty' }).addTo(group);
      }
      L.circleMarker([at.lat, at.lon], { radius: opts.big ? 10 : 8, color: '#fff', weight: 2, fillColor: COLORS.fake_bts, fillOpacity: 1, className: 'cw-bts' })
        .bindPopup(() => popup(c, at.r ? `position ± ${Math.round(at.r)} m` : `position at ${fmtTime(until)}`))
        .bindTooltip(at.r ? `${shortId(c.case_id)} ± ${Math.round(at.r)} m` : shortId(c.case_id))
        .addTo(group);
      pts.push([at.lat, at.lon]);
    }
  } else {
    const farm = c.kind === 'sim_farm';
    for (const p of c.places || []) {
      L.circleMarker([p.lat, p.lon], {
        radius: farm ? 9 : 5, color: '#fff', weight: farm ? 2 : 1,
        fillColor: farm ? COLORS.sim_farm : COLORS.spam_sim, fillOpacity: farm ? 0.95 : 0.85,
        className: farm ? 'cw-farm' : 'cw-spam',
      })
        .bindPopup(() => popup(c, `serving cell ${p.cell} (${p.records} records)`))
        .bindTooltip(`${farm ? 'farm' : 'spam SIM'} ${shortId(c.case_id)}`)
        .addTo(group);
      pts.push([p.lat, p.lon]);
    }
  }
  return pts;
}

// The registered-cell layer: the cells inside the view, read again when it moves.
export function cellLayer(map, config) {
  const group = L.layerGroup();
  if (!config.registered_cells) return group;
  const load = debounce(async () => {
    if (!map.hasLayer(group)) return;
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    const bbox = [clamp(b.getWest(), -180, 179.9), clamp(b.getSouth(), -90, 89.9), clamp(b.getEast(), -179.9, 180), clamp(b.getNorth(), -89.9, 90)]
      .map((v) => v.toFixed(5)).join(',');
    try {
      const res = await api.cells(bbox);
      group.clearLayers();
      for (const c of res.cells) {
        L.circleMarker([c.lat, c.lon], { radius: 3, color: COLORS.cell, weight: 1, fillColor: '#b0bec5', fillOpacity: 0.9, className: 'cw-cell' })
          .bindTooltip(`${c.radio} ${c.cell}`).addTo(group);
      }
      group.truncated = res.truncated;
    } catch (e) {
      console.warn('registered cells', e);
    }
  }, 250);
  map.on('moveend', load);
  map.on('overlayadd', (e) => { if (e.layer === group) load(); });
  group.reload = load;
  return group;
}

// The overview map: case layers by kind, registered cells, a layer switcher.
export class CaseMap {
  constructor(el, config) {
    this.map = makeMap(el, config);
    this.layers = {
      fake_bts: L.layerGroup().addTo(this.map),
      sim_farm: L.layerGroup().addTo(this.map),
      spam_sim: L.layerGroup().addTo(this.map),
    };
    this.cells = cellLayer(this.map, config);
    if (config.registered_cells) this.cells.addTo(this.map);
    L.control.layers(null, {
      'Transmitters (track, position ± uncertainty)': this.layers.fake_bts,
      'SIM farms (at serving cells)': this.layers.sim_farm,
      'Spam SIMs (at serving cells)': this.layers.spam_sim,
      'Registered cells': this.cells,
    }, { collapsed: false }).addTo(this.map);
    this.fitted = false;
    this.points = [];
    this.cellsLoaded = config.registered_cells;
  }

  // Draw `cases` for the time window; the first time, fit the view to them.
  draw(cases, since, until) {
    for (const g of Object.values(this.layers)) g.clearLayers();
    const pts = [];
    for (const c of cases) {
      const g = this.layers[c.kind];
      if (g) pts.push(...drawCase(g, c, since, until));
    }
    this.points = pts;
    if (!this.fitted && pts.length) {
      this.fit();
      this.fitted = true;
    }
    if (!this.fitted && !pts.length && this.cellsLoaded && !this.cellFit) {
      this.cellFit = true;
      api.cells('').then((res) => {
        if (!this.fitted && res.cells.length) {
          this.map.fitBounds(L.latLngBounds(res.cells.map((c) => [c.lat, c.lon])), { padding: [20, 20] });
        }
      });
    }
  }

  fit() {
    if (this.points.length) this.map.fitBounds(L.latLngBounds(this.points), { padding: [30, 30], maxZoom: 16 });
  }

  bbox() {
    const b = this.map.getBounds();
    const f = (v) => v.toFixed(5);
    return [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180), Math.min(b.getNorth(), 90)].map(f).join(',');
  }
}
