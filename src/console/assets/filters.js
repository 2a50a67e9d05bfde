// The filters of the map and the list: the form beside the map (kind, status,
// operator, minimum score, "only cases in the map view") and the time bar (until a
// moment, over a window). They become the query of GET /api/cases, the same filters
// as `cellwatch cases list`, so the map and the list always show the same cases.

import { fmtTime } from './util.js';

export class Filters {
  constructor(form, slider, label, windowSelect, onChange) {
    this.form = form;
    this.slider = slider;
    this.label = label;
    this.windowSelect = windowSelect;
    this.span = null;
    this.onChange = onChange;
    form.addEventListener('change', () => onChange());
    form.addEventListener('input', (e) => { if (e.target.type !== 'checkbox') onChange(); });
    form.addEventListener('submit', (e) => { e.preventDefault(); onChange(); });
    slider.addEventListener('input', () => { this.showTime(); onChange(); });
    windowSelect.addEventListener('change', () => { this.showTime(); onChange(); });
  }

  // The time span of all cases (from the list answer): the slider's range.
  setSpan(span) {
    if (!span) return;
    const same = this.span && this.span.first_seen === span.first_seen && this.span.last_seen === span.last_seen;
    if (same) return;
    const atEnd = Number(this.slider.value) >= Number(this.slider.max);
    this.span = span;
    if (atEnd) this.slider.value = this.slider.max;
    this.showTime();
  }

  // The moment the slider points at, or null at its right end (no upper bound).
  until() {
    if (!this.span || Number(this.slider.value) >= Number(this.slider.max)) return null;
    const f = Number(this.slider.value) / Number(this.slider.max);
    return Math.round(this.span.first_seen + f * (this.span.last_seen - this.span.first_seen));
  }

  // The start of the window, or null for "all".
  since() {
    const w = Number(this.windowSelect.value);
    if (!w) return null;
    const end = this.until() ?? (this.span ? this.span.last_seen : null);
    return end == null ? null : end - w;
  }

  showTime() {
    const u = this.until();
    const s = this.since();
    let text = u == null ? 'latest' : fmtTime(u);
    if (s != null) text = `${fmtTime(s)} → ${u == null ? fmtTime(this.span.last_seen) : fmtTime(u)}`;
    this.label.textContent = text;
  }

  // The query of GET /api/cases (`bbox` is the map view, used when "only in view"
  // is on), or null when no kind or no status is ticked (nothing can match).
  params(bbox) {
    const p = new URLSearchParams();
    const f = new FormData(this.form);
    const kinds = f.getAll('kind');
    const statuses = f.getAll('status');
    if (kinds.length === 0 || statuses.length === 0) return null;
    if (kinds.length < 3) p.set('kind', kinds.join(','));
    if (statuses.length < 4) p.set('status', statuses.join(','));
    const op = String(f.get('operator') || '').trim();
    if (op) p.set('operator', op);
    const ms = String(f.get('min_score') || '').trim();
    if (ms) p.set('min_score', ms);
    if (f.get('in_view') && bbox) p.set('bbox', bbox);
    const u = this.until();
    const s = this.since();
    if (s != null) p.set('since', String(s));
    if (u != null) p.set('until', String(u + 1));
    return p;
  }

  inView() {
    return new FormData(this.form).get('in_view') !== null;
  }
}
