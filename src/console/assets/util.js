// Small DOM and formatting helpers. Text always goes in as text nodes: case ids,
// notes and records come from outside and are never parsed as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Epoch milliseconds as `2026-11-04 12:34:56 UTC` (the CLI's format).
export function fmtTime(ms) {
  if (ms === undefined || ms === null) return '';
  const d = new Date(ms);
  if (isNaN(d)) return String(ms);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function fmtNum(v) {
  if (typeof v !== 'number') return String(v ?? '');
  if (Number.isInteger(v)) return String(v);
  return String(Math.round(v * 1000) / 1000);
}

export const KIND_LABEL = { fake_bts: 'transmitter', sim_farm: 'SIM farm', spam_sim: 'spam SIM' };
export const STATUS_LABEL = { open: 'open', handed_over: 'handed over', confirmed: 'confirmed', dismissed: 'dismissed' };
export const ACTION_LABEL = { handed_over: 'Hand over', confirmed: 'Confirm', dismissed: 'Dismiss' };

export function kindBadge(kind) {
  return h('span', { class: `badge kind-${kind}` }, KIND_LABEL[kind] || kind);
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, STATUS_LABEL[status] || status);
}

// What a case is about, in one short line: claimed cell, operator, SIM count.
export function subject(c) {
  if (c.kind === 'fake_bts') {
    const cc = c.claimed_cell || (c.identities || [])[0];
    return cc ? `${cc.rat} ${cc.mcc}-${cc.mnc}-${cc.lac}-${cc.cid}` : '';
  }
  const sims = (c.sims || []).length;
  return `${c.operator || ''} · ${sims} SIM${sims === 1 ? '' : 's'}`;
}

export function shortId(id) {
  return id.length > 22 ? id.slice(0, 22) + '…' : id;
}

export function table(headers, rows, cls) {
  return h('table', { class: cls || 'grid' },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell) => h('td', {}, cell))))));
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}
