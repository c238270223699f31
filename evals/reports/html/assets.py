"""The HTML pages' assets: the stylesheet and the one script, both inlined in every page.

The script (filters, search, sort, the URL-hash state) is allowed to run by its hash in the
page's Content-Security-Policy (``parts.page``), so any change to it changes that hash too.
"""

from __future__ import annotations

from evals.reports.charts import BASE_COLOR, FINETUNED_COLOR


def stylesheet() -> str:
    """Return the stylesheet with the arms' chart colors filled in."""
    return _CSS.replace("@BASE@", BASE_COLOR).replace("@FT@", FINETUNED_COLOR)


_CSS = """
:root{--fg:#1d232b;--muted:#5d6875;--line:#dde2e8;--bg:#f5f7fa;--card:#fff;--base:@BASE@;--ft:@FT@;
--pos:#2e7d32;--neg:#c62828;--warn:#9a6700;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",sans-serif}
main{max-width:1480px;margin:0 auto;padding:20px 24px 8px}
footer{max-width:1480px;margin:0 auto;padding:8px 24px 24px;font-size:12px}
h1{font-size:22px;margin:0}h2{font-size:17px;margin:0;display:inline}
.muted{color:var(--muted);font-weight:normal}
code{font-family:var(--mono);font-size:12.5px}
.top{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin-bottom:16px}
.title-row{display:flex;align-items:center;gap:14px;flex-wrap:wrap}
.verdict{color:#fff;font-weight:700;letter-spacing:.06em;padding:4px 12px;border-radius:999px;font-size:14px}
.subtitle{margin:4px 0 14px;color:var(--muted);word-break:break-all}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(210px,1fr));gap:10px;margin:12px 0}
.kpi{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fbfcfd}
.kpi .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.kpi .v{font-size:19px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums}
.kpi .s{font-size:12.5px;color:var(--muted)}
.kpi.gate-passed{border-color:#a5d6a7;background:#f1f8f1}.kpi.gate-passed .v{color:var(--pos)}
.kpi.gate-failed{border-color:#ef9a9a;background:#fdf1f1}.kpi.gate-failed .v{color:var(--neg)}
.kpi.gate-no_baseline .v,.kpi.gate-none .v{color:var(--muted)}
.reasons{margin:6px 0;padding-left:20px}.reasons.gate-failed li{color:var(--neg)}
.warning{margin:6px 0;padding:6px 10px;border-left:3px solid var(--warn);background:#fff8e6}
.note{margin:4px 0;color:var(--muted)}
details.next summary{cursor:pointer;color:var(--muted);margin-top:6px}
.section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 20px;margin-bottom:16px}
.section>summary{cursor:pointer;padding:2px 0 8px;list-style-position:outside}
.fields{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:4px 0}
.fields dt{color:var(--muted)}.fields dd{margin:0;word-break:break-word}
.chart svg{display:block;width:100%;max-width:1180px;height:auto;margin:0 auto}
.table-wrap{overflow-x:auto}
table.stats{border-collapse:collapse;font-variant-numeric:tabular-nums}
.stats th,.stats td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
.stats thead th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.stats td.num{text-align:right}.stats tr.total{font-weight:650;background:#f7f9fb}
.bar-track{display:inline-block;width:48px;height:8px;background:#edf0f3;border-radius:4px;margin-right:8px;
vertical-align:middle;overflow:hidden}.bar-fill{display:block;height:100%}
.pos{color:var(--pos)}.neg{color:var(--neg)}
.pill{color:#fff;padding:1px 9px;border-radius:999px;font-size:12px}
.legend{color:var(--muted);margin:2px 0 10px}
.toolbar{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;gap:10px 16px;align-items:center;
background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin-bottom:10px;
box-shadow:0 2px 6px rgba(0,0,0,.05)}
.toolbar label{display:flex;align-items:center;gap:6px;color:var(--muted)}
.toolbar .grow{flex:1 1 220px}.toolbar .grow input{flex:1}
.toolbar select,.toolbar input[type=search]{font:inherit;padding:4px 6px;border:1px solid #c5ccd4;border-radius:6px}
.toolbar button{font:inherit;padding:4px 10px;border:1px solid #c5ccd4;border-radius:6px;background:#f5f7fa;cursor:pointer}
.count{margin-left:auto;color:var(--muted);font-variant-numeric:tabular-nums}
.cases{display:flex;flex-direction:column;gap:8px}
.case{display:grid;grid-template-columns:minmax(200px,.8fr) repeat(var(--cols),minmax(0,1.3fr));gap:0;
border:1px solid var(--line);border-radius:8px;background:var(--card);overflow:hidden}
article.case{border-left:4px solid var(--line)}
.case[data-status=regression]{border-left-color:var(--neg)}.case[data-status=improvement]{border-left-color:var(--pos)}
.case.head{background:transparent;border:0;font-size:12px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em;padding:0 0 0 4px}.case.head>div{padding:0 12px}
.info,.answer-cell{padding:10px 12px;min-width:0}
.answer-cell{border-left:1px solid var(--line)}
.answer-cell.base,.answer-cell.run-a{background:#fafbfc}
.id-line{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.case-id{font-weight:600}
.cat{font-size:12px;color:var(--muted);border:1px solid var(--line);border-radius:999px;padding:0 8px}
.delta{margin-left:auto;font-weight:650;color:var(--muted);font-variant-numeric:tabular-nums}
.delta.pos{color:var(--pos)}.delta.neg{color:var(--neg)}
.prompt{margin:6px 0 4px;font-size:15px;font-weight:550}
.prompt::before{content:"\\201C"}.prompt::after{content:"\\201D"}
.intended,.expected,.tools{margin:3px 0;font-size:13px}
.k{color:var(--muted);font-size:12px;margin-right:4px}
.tool{background:#eef1f4;border-radius:4px;padding:0 5px}
.tool.ok{background:#e3f2e4;color:#1b5e20}.tool.extra{background:#fde7e7;color:#9f1c1c}
.tool.missing{background:transparent;color:var(--muted);text-decoration:line-through}
.badges{display:flex;flex-wrap:wrap;gap:4px;margin-top:6px}
.badge{font-size:11.5px;padding:1px 7px;border-radius:999px;border:1px solid transparent;white-space:nowrap}
.badge.regression{background:#fde7e7;color:#9f1c1c;border-color:#f3b6b6}
.badge.improvement{background:#e3f2e4;color:#1b5e20;border-color:#b3d9b5}
.badge.flipped{background:#ede7f6;color:#4527a0;border-color:#c9b8ea}
.badge.same{background:#f0f2f4;color:var(--muted)}
.badge.echo,.badge.recited,.badge.loop{background:#fff3e0;color:#8a4b00;border-color:#f5d09a}
.badge.refusal,.badge.malformed{background:#fce4ec;color:#8e1945;border-color:#f1b4c8}
.badge.valid{background:#e3f2e4;color:#1b5e20;border-color:#b3d9b5}
.arm-head{display:flex;flex-wrap:wrap;gap:4px 8px;align-items:center;margin-bottom:6px}
.arm{font-weight:650;text-transform:uppercase;font-size:12px;letter-spacing:.04em}
.base .arm,.run-a .arm{color:#55626f}.finetuned .arm,.run-b .arm{color:var(--ft)}
.score{font-size:12px;color:var(--muted);font-variant-numeric:tabular-nums}
.score.rel{font-weight:650}.rel.full{color:var(--pos)}.rel.part{color:var(--warn)}.rel.none{color:var(--neg)}
.answer{font-family:var(--mono);font-size:12.5px;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;
border:1px solid #e8ebef;border-radius:6px;padding:6px 8px;max-height:16em;overflow-y:auto}
del{background:#fde2e2;color:#8d1d1d;text-decoration:line-through;text-decoration-color:#d88}
ins{background:#d8f3dc;color:#14532d;text-decoration:none}
.notes{grid-column:1/-1;border-top:1px dashed var(--line);padding:6px 12px;font-size:12.5px}
.empty{color:var(--muted);text-align:center;padding:20px}
[hidden]{display:none!important}
@media (max-width:900px){.case{grid-template-columns:1fr}.answer-cell{border-left:0;border-top:1px solid var(--line)}
.case.head{display:none}}
"""


# Filters, search, sort; their state lives in the URL hash (#category=routing&regressions=1&q=volume&sort=delta).
SCRIPT = """
(function () {
  "use strict";
  var list = document.getElementById("cases");
  if (!list) { return; }
  var rows = Array.prototype.slice.call(list.querySelectorAll("article.case"));
  var text = rows.map(function (row) {
    return Array.prototype.map.call(row.querySelectorAll(".searchable"), function (el) {
      return el.textContent;
    }).join("\\n").toLowerCase();
  });
  var order = rows.map(function (row, i) { return i; });
  var el = {
    category: document.getElementById("f-category"),
    regressions: document.getElementById("f-regressions"),
    changed: document.getElementById("f-changed"),
    q: document.getElementById("f-q"),
    sort: document.getElementById("f-sort"),
    count: document.getElementById("f-count"),
    empty: document.getElementById("f-empty"),
    reset: document.getElementById("f-reset")
  };
  function hasOption(select, value) {
    return Array.prototype.some.call(select.options, function (o) { return o.value === value; });
  }
  function readHash() {
    var p = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var category = p.get("category") || "";
    var sort = p.get("sort") || "";
    return {
      category: hasOption(el.category, category) ? category : "",
      regressions: p.get("regressions") === "1",
      changed: p.get("changed") === "1",
      q: p.get("q") || "",
      sort: hasOption(el.sort, sort) ? sort : ""
    };
  }
  function readControls() {
    return {
      category: el.category.value,
      regressions: el.regressions.checked,
      changed: el.changed.checked,
      q: el.q.value,
      sort: el.sort.value
    };
  }
  function setControls(s) {
    el.category.value = s.category;
    el.regressions.checked = s.regressions;
    el.changed.checked = s.changed;
    el.q.value = s.q;
    el.sort.value = s.sort;
  }
  function writeHash(s) {
    var p = new URLSearchParams();
    if (s.category) { p.set("category", s.category); }
    if (s.regressions) { p.set("regressions", "1"); }
    if (s.changed) { p.set("changed", "1"); }
    if (s.q) { p.set("q", s.q); }
    if (s.sort) { p.set("sort", s.sort); }
    var hash = p.toString();
    var url = window.location.href.split("#")[0] + (hash ? "#" + hash : "");
    if (url === window.location.href) { return; }
    try { window.history.replaceState(null, "", url); } catch (e) { window.location.replace(url); }
  }
  function apply(s) {
    var q = s.q.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row, i) {
      var ok = (!s.category || row.getAttribute("data-category") === s.category) &&
        (!s.regressions || row.getAttribute("data-status") === "regression") &&
        (!s.changed || row.getAttribute("data-changed") === "1") &&
        (!q || text[i].indexOf(q) !== -1);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    var sorted = order.slice();
    if (s.sort === "delta" || s.sort === "-delta") {
      var sign = s.sort === "delta" ? 1 : -1;
      sorted.sort(function (a, b) {
        var d = sign * (parseFloat(rows[a].getAttribute("data-delta")) - parseFloat(rows[b].getAttribute("data-delta")));
        return d !== 0 ? d : a - b;
      });
    }
    sorted.forEach(function (i) { list.appendChild(rows[i]); });
    el.count.textContent = shown + " of " + rows.length + " cases";
    if (el.empty) { el.empty.hidden = shown !== 0; }
  }
  function onControl() {
    var s = readControls();
    writeHash(s);
    apply(s);
  }
  function onHash() {
    var s = readHash();
    setControls(s);
    apply(s);
  }
  [el.category, el.regressions, el.changed, el.sort].forEach(function (c) {
    c.addEventListener("change", onControl);
  });
  el.q.addEventListener("input", onControl);
  el.reset.addEventListener("click", function () {
    setControls({category: "", regressions: false, changed: false, q: "", sort: ""});
    onControl();
  });
  window.addEventListener("hashchange", onHash);
  onHash();
})();
"""
