//! The page's building blocks: its inline stylesheet, tables and cells (every text
//! escaped).

use crate::inspect::export::kml::xml_escape as esc;
use crate::inspect::time::format_ms_seconds;
use std::fmt::Write;

pub(super) const CSS: &str = r#"
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;margin:24px auto;max-width:1100px;color:#1d1d1d;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #d9d4c7;padding-bottom:4px}
.sub{color:#555;font-size:13px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:bold;color:#fff;background:#555;margin-right:6px}
.k-fake_bts{background:#b22222}.k-spam_sim{background:#1f5fa8}.k-sim_farm{background:#6a3d9a}
.s-open{background:#c77800}.s-handed_over{background:#1f77b4}.s-confirmed{background:#2c7a2c}.s-dismissed{background:#777}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}
th,td{border:1px solid #d6d6d6;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1efe8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.mono,span.mono{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
table.kv th{width:180px}
.fired{color:#b22222;font-weight:bold}
.note{color:#555;font-size:12px}
figure{margin:8px 0}figcaption{font-size:12px;color:#555}
figure svg{width:100%;height:auto}
td.t{white-space:nowrap}
@media print{body{margin:0}h2{page-break-after:avoid}}
"#;

pub(super) fn kv(o: &mut String, k: &str, v: &str) {
    let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
}

pub(super) fn table(o: &mut String, id: &str, headers: &[&str], rows: &[Vec<String>]) {
    let _ = write!(o, "<table id=\"{id}\"><thead><tr>");
    for h in headers {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr></thead><tbody>\n");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            o.push_str(c);
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table>\n");
}

pub(super) fn td(s: &str) -> String {
    format!("<td>{}</td>", esc(s))
}
pub(super) fn td_num(s: &str) -> String {
    format!("<td class=\"num\">{}</td>", esc(s))
}
pub(super) fn td_time(ms: Option<i64>) -> String {
    format!(
        "<td class=\"t\">{}</td>",
        ms.map(format_ms_seconds).unwrap_or_default()
    )
}
pub(super) fn td_mono(s: &str) -> String {
    format!("<td class=\"mono\">{}</td>", esc(s))
}
