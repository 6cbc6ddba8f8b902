"""Render a report as one self-contained HTML page.

No network at all: the CSS and the small filtering script are inline, the chart is
inline SVG, there are no fonts, images or links to fetch. Every value that came from
the tests or a database goes through :func:`html.escape` (text and attributes); the
script reads only ``data-*`` attributes, so no JSON is embedded.

To stay fast on large suites (5,000 tests render in well under 100 ms) tests that
behaved the same get one compact row; only the others carry an expandable
``<details>`` with both legs side by side.
"""

from __future__ import annotations

from collections.abc import Iterator

import html as _html
import re
from typing import Any

from dualdb.records import Difference
from dualdb.report.markdown import (
    engines_shown,
    MAX_ROWS,
    VERDICT_LABELS,
    backend_label,
    backend_names,
    baseline_groups,
    category_of,
    clip,
    diff_statement_index,
    diff_values,
    difference_title,
    error_text,
    has_params,
    leg_brief,
    mask_url,
    missing_text,
    result_text,
    sorted_tests,
    statement_sides,
    to_json,
    value_text,
)
from dualdb.report.model import CATEGORIES, VERDICTS, Report, TestEntry

__all__ = ["render_html"]

#: Statements shown per leg in the details (the JSON has all of them).
MAX_STATEMENTS = 100
MAX_SQL_CHARS = 4000


def esc(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute value."""
    if value is None:
        return ""
    return _html.escape(value if isinstance(value, str) else str(value), quote=True)


CSS = """
:root{--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;--bg:#fff;--panel:#f6f8fa;--accent:#0969da;
--diverged:#cf222e;--known:#9a6700;--failed_both:#8250df;--skipped:#6e7781;--same:#1a7f37;--hl:#fff8c5}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1280px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--border)}
h3{font-size:15px;margin:14px 0 6px}h4{font-size:13px;margin:10px 0 4px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
pre{margin:4px 0;padding:8px 10px;background:var(--panel);border:1px solid var(--border);border-radius:6px;overflow:auto;max-height:320px;white-space:pre-wrap;word-break:break-word}
.lead{color:var(--muted);margin:0 0 16px}
.engines{display:flex;flex-wrap:wrap;gap:8px 24px;margin:8px 0 0;padding:0;list-style:none;color:var(--muted)}
.engines b{color:var(--fg)}
.warnings{border:1px solid #d4a72c;background:#fff8c5;border-radius:6px;padding:8px 14px;margin:16px 0}
.warnings ul{margin:4px 0;padding-left:20px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:10px;margin:16px 0}
.card{border:1px solid var(--border);border-radius:8px;padding:10px 14px;border-top:4px solid var(--border)}
.card .n{font-size:24px;font-weight:600}.card .l{color:var(--muted);font-size:12px}
.card.diverged{border-top-color:var(--diverged)}.card.known{border-top-color:var(--known)}
.card.failed_both{border-top-color:var(--failed_both)}.card.skipped{border-top-color:var(--skipped)}.card.same{border-top-color:var(--same)}
svg.chart{max-width:100%;height:auto}svg.chart text{font-size:12px;fill:var(--fg)}
svg.chart .bar{fill:var(--diverged);cursor:pointer}svg.chart .known-bar{fill:var(--known);opacity:.45;cursor:pointer}
svg.chart .bar:hover,svg.chart .known-bar:hover{opacity:.8}svg.chart .muted{fill:var(--muted)}
.controls{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:8px 0 12px;position:sticky;top:0;background:var(--bg);padding:8px 0;z-index:2}
#filter{flex:1 1 280px;padding:6px 10px;border:1px solid var(--border);border-radius:6px;font:inherit}
select{padding:5px 8px;border:1px solid var(--border);border-radius:6px;font:inherit;background:var(--bg)}
.controls label{white-space:nowrap;cursor:pointer}.count{color:var(--muted)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--border)}
th{font-size:12px;color:var(--muted);font-weight:600;background:var(--panel)}
table.tests{table-layout:fixed}table.tests td.node{word-break:break-all}
col.c-test{width:30%}col.c-verdict{width:10%}col.c-kind{width:7%}col.c-cat{width:9%}
td.brief{max-width:260px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
tr.test-detail>td{padding:0 8px 8px;border-bottom:1px solid var(--border)}
tr.test-row.has-detail>td{border-bottom:none}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.badge.diverged{background:var(--diverged)}.badge.known{background:var(--known)}.badge.failed_both{background:var(--failed_both)}
.badge.skipped{background:var(--skipped)}.badge.same{background:var(--same)}
details>summary{cursor:pointer;color:var(--accent)}
.legs{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:12px;margin-top:8px}
.leg{border:1px solid var(--border);border-radius:8px;padding:8px 12px;min-width:0}
.leg h3{margin-top:0}
.firstdiff{border:2px solid var(--diverged);background:#fff5f5;border-radius:8px;padding:8px 12px;margin-top:8px}
.explanation{border-left:4px solid var(--accent);background:#f4f8ff;padding:6px 12px;margin-top:8px;border-radius:0 6px 6px 0}
.explanation p{margin:4px 0}
ol.stmts{padding-left:28px;margin:4px 0}ol.stmts li{margin-bottom:6px}
li.diff>pre,tr.diff td{background:var(--hl)}li.diff{outline:2px solid #d4a72c;outline-offset:2px;border-radius:4px}
.params{color:var(--muted)}.err{color:var(--diverged)}.notes{color:var(--muted)}
.outcome-passed{color:var(--same);font-weight:600}.outcome-failed,.outcome-error{color:var(--diverged);font-weight:600}
.outcome-skipped{color:var(--skipped);font-weight:600}
table.obs td{padding:3px 6px;font-size:12.5px}
.empty{color:var(--muted);font-style:italic}
[hidden]{display:none!important}
@media (max-width:800px){.legs{grid-template-columns:minmax(0,1fr)}}
"""

JS = """
(function(){
  var rows=[].slice.call(document.querySelectorAll('tr.test-row'));
  var input=document.getElementById('filter'),cat=document.getElementById('category');
  var boxes=[].slice.call(document.querySelectorAll('input.verdict-toggle'));
  var shown=document.getElementById('shown');
  rows.forEach(function(r){
    var d=r.dataset;
    r._s=(d.nodeid+' '+d.category+' '+d.verdict+' '+(d.kind||'')).toLowerCase();
    var n=r.nextElementSibling;
    r._d=(n&&n.classList.contains('test-detail'))?n:null;
  });
  function apply(){
    var q=input.value.trim().toLowerCase(),c=cat.value,on={},n=0;
    boxes.forEach(function(b){on[b.value]=b.checked;});
    var words=q?q.split(/\\s+/):[];
    rows.forEach(function(r){
      var ok=on[r.dataset.verdict]!==false&&(!c||r.dataset.category===c);
      for(var i=0;ok&&i<words.length;i++){if(r._s.indexOf(words[i])<0)ok=false;}
      r.hidden=!ok;if(r._d)r._d.hidden=!ok;if(ok)n++;
    });
    if(shown)shown.textContent=n;
  }
  var t;input.addEventListener('input',function(){clearTimeout(t);t=setTimeout(apply,80);});
  cat.addEventListener('change',apply);
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  [].slice.call(document.querySelectorAll('svg.chart .bar,svg.chart .known-bar')).forEach(function(b){
    b.addEventListener('click',function(){
      cat.value=b.getAttribute('data-category');
      var v=b.classList.contains('bar')?'diverged':'known';
      boxes.forEach(function(x){if(x.value===v)x.checked=true;});
      apply();document.getElementById('tests').scrollIntoView({behavior:'smooth'});
    });
  });
  var h=decodeURIComponent(location.hash.slice(1));
  if(h.indexOf('filter=')===0){input.value=h.slice(7);}
  apply();
})();
"""


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def prose(value: Any) -> str:
    """Escape human-written text (explanations, warnings) and show its `code spans` as <code>."""
    return _CODE_SPAN.sub(r"<code>\1</code>", esc(value))


def _engines(report: Report) -> str:
    backends = report.backends
    if not backends:
        return ""
    items = []
    for name, info, details in engines_shown(report):
        parts = [f"<b>{esc(backend_label(name))}</b>"]
        if info.version:
            parts.append(esc(info.version))
        if info.url:
            parts.append(f"<code>{esc(mask_url(info.url))}</code>")
        for key, value in details:
            parts.append(f"{esc(key)} <code>{esc(value)}</code>")
        items.append("<li>" + " · ".join(parts) + "</li>")
    return '<ul class="engines">' + "".join(items) + "</ul>"


def _warnings(report: Report) -> str:
    warnings = [w for w in report.warnings if w]
    if not warnings:
        return ""
    lis = "".join(f"<li>{prose(w)}</li>" for w in warnings)
    return f'<div class="warnings" role="note"><b>Warnings</b><ul>{lis}</ul></div>'


def _cards(summary: dict[str, int]) -> str:
    out = [f'<div class="card"><div class="n">{summary["tests"]}</div><div class="l">tests</div></div>']
    for v in VERDICTS:
        out.append(
            f'<div class="card {v}"><div class="n">{esc(summary[v])}</div>'
            f'<div class="l">{esc(VERDICT_LABELS[v].lower())}</div></div>'
        )
    return '<div class="cards">' + "".join(out) + "</div>"


def _chart(tests: list[TestEntry]) -> str:
    diverged: dict[str, int] = {}
    known: dict[str, int] = {}
    for t in tests:
        v = t.verdict
        if v == "diverged":
            diverged[category_of(t)] = diverged.get(category_of(t), 0) + 1
        elif v == "known":
            known[category_of(t)] = known.get(category_of(t), 0) + 1
    cats = sorted(set(diverged) | set(known), key=lambda c: (-diverged.get(c, 0), -known.get(c, 0), c))
    if not cats:
        return '<p class="empty">No divergences.</p>'
    label_w, bar_w, row_h, right = 130, 460, 26, 150
    width = label_w + bar_w + right
    height = row_h * len(cats) + 8
    top = max(max((diverged.get(c, 0) + known.get(c, 0) for c in cats), default=0), 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="Divergences by category" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, cat in enumerate(cats):
        y = 4 + i * row_h
        n = diverged.get(cat, 0)
        w = round(bar_w * n / top, 1)
        k = known.get(cat, 0)
        label = f"{n} diverged" + (f" · {k} known" if k else "")
        kw = round(bar_w * k / top, 1)
        c = esc(cat)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{esc(clip(cat, 18))}</text>'
            f'<rect class="bar" data-category="{c}" data-count="{n}" x="{label_w}" y="{y + 3}" width="{w}" '
            f'height="{row_h - 8}"><title>{c}: {esc(label)}</title></rect>'
        )
        if k:
            parts.append(
                f'<rect class="known-bar" data-category="{c}" data-count="{k}" x="{label_w + w}" y="{y + 3}" '
                f'width="{kw}" height="{row_h - 8}"><title>{c}: {k} known</title></rect>'
            )
        parts.append(f'<text class="muted" x="{label_w + w + kw + 6}" y="{y + 16}">{esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _pre(text: str, cls: str = "") -> str:
    if len(text) > MAX_SQL_CHARS:
        text = text[:MAX_SQL_CHARS] + f"\n… ({len(text) - MAX_SQL_CHARS} more characters)"
    c = f' class="{cls}"' if cls else ""
    return f"<pre{c}>{esc(text)}</pre>"


def _statement_cols(test: TestEntry, fd: Difference) -> list[str]:
    cols = []
    for side in statement_sides(test, fd):
        inner = [f"<h4>{esc(backend_label(side.backend))}</h4>"]
        if side.sql:
            inner.append(_pre(side.sql, "sql"))
        if has_params(side.params):
            inner.append(f'<div class="params mono">params: {esc(clip(to_json(side.params), 1000))}</div>')
        if side.result:
            inner.append(_pre(side.result))
        cols.append('<div class="leg">' + "".join(inner) + "</div>")
    return cols


def _first_difference(test: TestEntry) -> str:
    fd = test.first_difference
    if fd is None:
        return ""
    source = fd.source
    head = f"<b>First difference</b>: {esc(difference_title(fd))}"
    if fd.shape:
        head += f' <span class="notes">(shape: {esc(fd.shape)})</span>'
    values = diff_values(fd)
    cols = []
    extra = ""
    if source == "statement":
        cols = _statement_cols(test, fd)
    else:
        for b in backend_names({**dict.fromkeys(test.legs), **values}):
            inner = []
            leg = test.legs.get(b)
            if source == "outcome" and leg is not None:
                outcome = esc(leg.outcome or "?")
                inner.append(f'<div>outcome: <span class="outcome-{outcome}">{outcome}</span></div>')
                if leg.error:
                    inner.append(f'<pre class="err">{esc(error_text(leg.error))}</pre>')
            elif b in values:
                inner.append(_pre(missing_text(values[b]) or value_text(values[b])))
            if inner:
                cols.append(f'<div class="leg"><h4>{esc(backend_label(b))}</h4>' + "".join(inner) + "</div>")
        evidence = fd.statement
        if source == "outcome" and evidence is not None:
            where = evidence.index
            at = f" at statement {where + 1}" if isinstance(where, int) else ""
            ecols = _statement_cols(test, evidence)
            if ecols:
                extra = f'<p>Where the engines parted{at}:</p><div class="legs">{"".join(ecols)}</div>'
    body = f'<div class="legs">{"".join(cols)}</div>' if cols else ""
    note = f'<p class="notes">{esc(fd.note)}</p>' if fd.note else ""
    return f'<div class="firstdiff">{head}{body}{extra}{note}</div>'


def _explanation(test: TestEntry) -> str:
    expl = test.explanation
    if expl is None:
        return ""
    out = ['<div class="explanation">']
    if expl.title:
        out.append(f"<h3>{prose(expl.title)}</h3>")
    if expl.why:
        out.append(f"<p><b>Why:</b> {prose(expl.why)}</p>")
    if expl.fix:
        out.append(f"<p><b>Fix:</b> {prose(expl.fix)}</p>")
    if expl.rule:
        out.append(f'<p class="notes">rule <code>{esc(expl.rule)}</code></p>')
    out.append("</div>")
    return "".join(out)


def _leg(test: TestEntry, backend: str, fd: Difference | None) -> str:
    """One engine's side: outcome, error, observations and statements, the first difference highlighted."""
    leg = test.legs.get(backend)
    source = fd.source if fd is not None else None
    out = [f'<div class="leg"><h3>{esc(backend_label(backend))}</h3>']
    if leg is None:
        out.append('<p class="empty">did not run</p></div>')
        return "".join(out)
    outcome = esc(leg.outcome or "?")
    out.append(f'<div>outcome: <span class="outcome-{outcome}">{outcome}</span></div>')
    if leg.error:
        out.append(f'<pre class="err">{esc(error_text(leg.error))}</pre>')
    observations = leg.observations
    if observations:
        out.append('<h4>Observations</h4><table class="obs">')
        obs_index = fd.index if source == "observation" and isinstance(fd.index, int) else None
        for i, o in enumerate(observations):
            if obs_index is not None:
                hit = i == obs_index
            else:
                hit = source == "observation" and fd.label is not None and o.label == fd.label
            hl = ' class="diff"' if hit else ""
            value = esc(clip(to_json(o.value), 2000))
            out.append(f"<tr{hl}><td><code>{esc(o.label)}</code></td><td><code>{value}</code></td></tr>")
        out.append("</table>")
    statements = leg.statements
    if statements:
        out.append(f'<h4>Statements ({len(statements)})</h4><ol class="stmts">')
        where = fd if source == "statement" else (fd.statement if fd is not None else None)
        highlight = diff_statement_index(test, where, backend) if where is not None else None
        for i, stmt in enumerate(statements[:MAX_STATEMENTS]):
            cls = ' class="diff"' if i == highlight else ""
            out.append(f"<li{cls}>")
            out.append(_pre(stmt.sql or "", "sql"))
            params = stmt.params
            if params not in (None, [], {}, ()):
                out.append(f'<div class="params mono">params: {esc(clip(to_json(params), 1000))}</div>')
            out.append(_pre(result_text(stmt, MAX_ROWS)))
            out.append("</li>")
        out.append("</ol>")
        if len(statements) > MAX_STATEMENTS:
            out.append(f'<p class="notes">… {len(statements) - MAX_STATEMENTS} more statements in dualdb.json</p>')
    notes = [n for n in leg.notes if n]
    if notes:
        out.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    out.append("</div>")
    return "".join(out)


def _details(test: TestEntry, names: list[str]) -> str:
    fd = test.first_difference
    title = test.explanation.title if test.explanation is not None else None
    summary = title or (f"First difference: {difference_title(fd)}" if fd else "Details")
    out = [f"<details><summary>{esc(summary)}</summary>"]
    if test.known_reason:
        out.append(f"<p><b>Known:</b> {esc(test.known_reason)}</p>")
    out.append(_first_difference(test))
    out.append(_explanation(test))
    notes = [n for n in test.harness_notes if n]
    if notes:
        out.append('<h4>Harness notes</h4><ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    out.append('<div class="legs">')
    for b in names:
        out.append(_leg(test, b, fd))
    out.append("</div></details>")
    return "".join(out)


def _row_category(test: TestEntry) -> str:
    """The category a row filters by: the chart's ``other`` for an uncategorised divergence."""
    if test.category:
        return test.category
    return category_of(test) if test.verdict in ("diverged", "known") else ""


def _brief_cell(text: str) -> str:
    return f'<td class="brief mono" title="{text}">{text}</td>'


def _outcome(test: TestEntry, backend: str) -> str:
    leg = test.legs.get(backend)
    return leg.outcome if leg is not None else ""


def _tests_table(tests: list[TestEntry], names: list[str]) -> Iterator[str]:
    """The tests table, row by row (a long run's page is written as it is rendered)."""
    head = "".join(f"<th>{esc(backend_label(b))}</th>" for b in names)
    out = [
        '<table class="tests"><colgroup><col class="c-test"><col class="c-verdict"><col class="c-kind"><col class="c-cat">'
        + "<col>" * len(names)
        + f"</colgroup><thead><tr><th>Test</th><th>Verdict</th><th>Kind</th><th>Category</th>{head}</tr></thead><tbody>"
    ]
    ncols = 4 + len(names)
    append = out.append
    for t in tests:
        if len(out) >= 500:
            yield "".join(out)
            out.clear()
        verdict = t.verdict
        v = esc(verdict)
        node = esc(t.nodeid)
        cat = esc(_row_category(t))
        kind = esc(t.kind or "")
        if verdict == "same":
            append(
                f'<tr class="test-row" data-verdict="{v}" data-category="{cat}" data-kind="{kind}" data-nodeid="{node}">'
                f'<td class="node mono">{node}</td><td><span class="badge same">Same</span></td><td></td><td></td>'
                + "".join(f'<td class="brief mono">{esc(_outcome(t, b))}</td>' for b in names)
                + "</tr>"
            )
            continue
        detail = verdict != "skipped" or bool(t.first_difference or t.explanation)
        briefs = "".join(_brief_cell(esc(leg_brief(t, b, 300))) for b in names)
        base = f' <span class="notes">({esc(t.baseline)})</span>' if t.baseline else ""
        append(
            f'<tr class="test-row{" has-detail" if detail else ""}" data-verdict="{v}" data-category="{cat}" '
            f'data-kind="{kind}" data-nodeid="{node}"><td class="node mono">{node}</td>'
            f'<td><span class="badge {v}">{esc(VERDICT_LABELS.get(verdict, verdict))}</span>{base}</td>'
            f"<td>{kind}</td><td>{cat}</td>{briefs}</tr>"
        )
        if detail:
            append(f'<tr class="test-detail"><td colspan="{ncols}">{_details(t, names)}</td></tr>')
    out.append("</tbody></table>")
    if not tests:
        out.append('<p class="empty">No database tests were recorded.</p>')
    yield "".join(out)


def _controls(tests: list[TestEntry], summary: dict[str, int]) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" class="verdict-toggle" value="{v}" checked> {esc(VERDICT_LABELS[v])} '
        f'<span class="count">({esc(summary[v])})</span></label>'
        for v in VERDICTS
    )
    present = {c for c in map(_row_category, tests) if c}
    cats = [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
    options = '<option value="">all categories</option>' + "".join(
        f'<option value="{esc(c)}">{esc(c)}</option>' for c in cats
    )
    return (
        '<div class="controls">'
        '<input id="filter" type="search" placeholder="Filter by node id, category, verdict…" aria-label="Filter tests" autocomplete="off">'
        f'<select id="category" aria-label="Category">{options}</select>{boxes}'
        f'<span class="count"><span id="shown">{len(tests)}</span> shown</span></div>'
    )


def _schema_findings(report: Report) -> str:
    findings = report.schema_findings
    if not findings:
        return ""
    rows = "".join(
        "<tr>"
        f"<td>{esc(f.kind)}</td><td>{esc(backend_label(f.backend) if f.backend else '')}</td>"
        f"<td><code>{esc(f.name)}</code></td><td>{esc(f.category)}</td>"
        f'<td class="err mono">{esc(error_text(f.error))}</td><td>{esc(f.fix)}</td>'
        "</tr>"
        for f in findings
    )
    return (
        '<section id="schema"><h2>Schema findings</h2><table><thead><tr><th>Kind</th><th>Backend</th><th>Name</th>'
        f"<th>Category</th><th>Error</th><th>Fix</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _id_list(title: str, ids: list[str], limit: int = 500) -> str:
    if not ids:
        return ""
    items = "".join(f"<li><code>{esc(i)}</code></li>" for i in ids[:limit])
    more = f"<li>… {len(ids) - limit} more</li>" if len(ids) > limit else ""
    return f"<h3>{esc(title)} ({len(ids)})</h3><ul>{items}{more}</ul>"


def _baseline(report: Report) -> str:
    if report.baseline is None:
        return ""
    new, accepted, disappeared = baseline_groups(report)
    source = report.baseline.file
    intro = f"Compared with <code>{esc(source)}</code>: " if source else ""
    return (
        f'<section id="baseline"><h2>Baseline</h2><p>{intro}<b>{len(new)}</b> new, <b>{len(accepted)}</b> accepted, '
        f"<b>{len(disappeared)}</b> disappeared.</p>"
        + _id_list("New divergences", new)
        + _id_list("Accepted (in the baseline)", accepted)
        + _id_list("Disappeared (in the baseline, no longer diverging)", disappeared)
        + "</section>"
    )


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML document."""
    return "".join(html_chunks(report))


def html_chunks(report: Report) -> Iterator[str]:
    """``render_html``'s text in pieces, so a report of thousands of tests is written without
    holding the page (and its rows) in memory at once."""
    tests = sorted_tests(report.tests)
    summary = report.summary
    names = backend_names(report.backends)
    n_div = summary["diverged"]
    if n_div:
        lead = f"{n_div} of {summary['tests']} tests behave differently on SQLite and PostgreSQL."
    elif summary["tests"]:
        lead = f"All {summary['tests']} tests behave the same on SQLite and PostgreSQL."
    else:
        lead = "No database tests were recorded."
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>pytest-dualdb report — {esc(n_div)} diverged</title>",
        f"<style>{CSS}</style></head><body><main>",
        f'<header><h1>pytest-dualdb report</h1><p class="lead">{esc(lead)}</p>{_engines(report)}</header>',
        _warnings(report),
        _cards(summary),
        '<section id="chart"><h2>Divergences by category</h2>',
        _chart(tests),
        "</section>",
        _schema_findings(report),
        _baseline(report),
        '<section id="tests"><h2>Tests</h2>',
        _controls(tests, summary),
        _tests_table(tests, names),
        "</section>",
        f"</main><script>{JS}</script></body></html>",
    ]
    first = True
    for part in parts:
        pieces = [part] if isinstance(part, str) else part
        for index, piece in enumerate(pieces):
            if index == 0 and piece:
                if not first:
                    yield "\n"
                first = False
            yield piece
    yield "\n"
