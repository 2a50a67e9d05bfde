// The console page: the map and the case queue (#/), or one case (#/case/ID).
// Cases come from the JSON API; /api/events announces changes, and the map, the
// list or the open case are read again without a reload.

import { api } from './api.js';
import { Auth } from './auth.js';
import { Filters } from './filters.js';
import { CaseMap } from './map.js';
import { renderList } from './list.js';
import { renderCase } from './case.js';
import { debounce, h } from './util.js';

const $ = (id) => document.getElementById(id);

const app = {
  config: null,
  auth: null,
  map: null,
  filters: null,
  list: null,
  caseId: null,
  seq: 0,
  updates: 0,
};
// Read-only view of the page's state (the browser tests and curious analysts).
window.cellwatch = app;

function message(text) {
  const m = $('message');
  m.hidden = !text;
  m.textContent = text || '';
}

async function loadList() {
  const seq = ++app.seq;
  const params = app.filters.params(app.map.bbox());
  if (!params) {
    app.list = { cases: [], total: 0, truncated: false, loaded: true };
  } else {
    try {
      app.list = await api.cases(params);
    } catch (e) {
      if (seq === app.seq) message(e.message);
      return;
    }
  }
  if (seq !== app.seq) return;
  message(app.list.error ? `The cases cannot be read right now: ${app.list.error}` : '');
  app.filters.setSpan(app.list.span);
  app.map.draw(app.list.cases, app.filters.since(), app.filters.until());
  renderList($('queue'), $('list-summary'), app.list);
  document.body.dataset.listLoaded = String(app.list.loaded);
  document.body.dataset.revision = String(app.list.revision ?? '');
}

const reloadList = debounce(loadList, 150);

function showMap() {
  $('view-case').hidden = true;
  $('view-map').hidden = false;
  app.caseId = null;
  if (!app.map) {
    app.map = new CaseMap($('map'), app.config);
    app.filters = new Filters($('filters'), $('time'), $('time-label'), $('window'), reloadList);
    app.map.map.on('moveend', () => { if (app.filters.inView()) reloadList(); });
    app.map.map.whenReady(() => loadList());
  } else {
    app.map.map.invalidateSize();
    loadList();
  }
}

async function showCase(id) {
  $('view-map').hidden = true;
  const el = $('view-case');
  el.hidden = false;
  app.caseId = id;
  document.body.dataset.caseLoaded = '';
  if (await renderCase(el, id, app)) document.body.dataset.caseLoaded = id;
}

function route() {
  const m = location.hash.match(/^#\/case\/(.+)$/);
  if (m) showCase(decodeURIComponent(m[1]));
  else showMap();
}

app.refresh = () => {
  if (app.caseId) showCase(app.caseId);
  else if (app.map) loadList();
};

function live() {
  const el = $('live');
  const es = new EventSource('/api/events');
  const onChange = (e) => {
    app.updates += 1;
    el.textContent = 'live · updated ' + new Date().toISOString().slice(11, 19) + ' UTC';
    el.className = 'live on';
    let changed = [];
    try { changed = JSON.parse(e.data).changed || []; } catch (err) { changed = []; }
    if (app.caseId) {
      const typing = $('note') && $('note').value.trim();
      if (changed.includes(app.caseId) && !typing) app.refresh();
    } else if (app.map) {
      reloadList();
    }
  };
  es.addEventListener('hello', () => { el.textContent = 'live'; el.className = 'live on'; });
  es.addEventListener('cases', onChange);
  es.addEventListener('reload', onChange);
  es.onerror = () => { el.textContent = 'reconnecting…'; el.className = 'live off'; };
}

async function start() {
  app.auth = new Auth($('auth'), () => { if (app.config) app.refresh(); });
  await app.auth.load();
  try {
    app.config = await api.config();
  } catch (e) {
    message(e.status === 401 ? 'Log in to read the cases.' : e.message);
    app.auth.onChange = (s) => { if (s.user) location.reload(); };
    return;
  }
  $('store').textContent = app.config.store;
  window.addEventListener('hashchange', route);
  route();
  live();
}

start().catch((e) => message('The console failed to start: ' + e.message));
