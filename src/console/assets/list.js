// The case queue beside the map: the same cases as the map, newest activity first,
// one row each (kind, status, score, subject, last seen); a row opens the case page.

import { h, fmtTime, fmtNum, kindBadge, statusBadge, subject, shortId } from './util.js';

export function renderList(el, summaryEl, res) {
  const cases = [...res.cases].sort((a, b) => b.last_seen - a.last_seen || a.case_id.localeCompare(b.case_id));
  const counts = {};
  for (const c of cases) counts[c.kind] = (counts[c.kind] || 0) + 1;
  const parts = Object.entries(counts).map(([k, n]) => `${n} ${k}`);
  summaryEl.replaceChildren(
    h('span', { id: 'case-count', dataset: { total: String(res.total), shown: String(cases.length) } },
      `${res.total} case${res.total === 1 ? '' : 's'}`),
    parts.length ? ` (${parts.join(', ')})` : '',
    res.truncated ? h('span', { class: 'warn' }, ` — showing ${cases.length}; narrow the filters`) : '');
  if (!cases.length) {
    el.replaceChildren(h('p', { class: 'empty' }, res.loaded ? 'No case matches these filters.' : 'Reading the cases…'));
    return;
  }
  const rows = cases.map((c) => h('a', {
    class: `case-row kind-${c.kind}`,
    href: '#/case/' + encodeURIComponent(c.case_id),
    dataset: { caseId: c.case_id, kind: c.kind, status: c.status },
  },
  h('div', { class: 'row1' }, kindBadge(c.kind), statusBadge(c.status), h('span', { class: 'score' }, fmtNum(c.score))),
  h('div', { class: 'row2 mono' }, shortId(c.case_id)),
  h('div', { class: 'row3' }, h('span', {}, subject(c)), h('span', { class: 'when' }, fmtTime(c.last_seen)))));
  el.replaceChildren(...rows);
}
