"""Render a report as GitHub-flavoured Markdown.

The output is meant for ``$GITHUB_STEP_SUMMARY`` and pull-request comments, and
stays readable as plain text. Everything that came from the user's tests or from a
database (node ids, SQL, parameters, rows, error messages, observed values) is put
either in a code span / fenced block whose fence is longer than any backtick run in
the value, or through :func:`md_text`, so it can neither inject HTML nor break a
table or a fence.

The helpers at the top (``mask_url``, ``leg_brief``, ``result_text`` …) are shared
with :mod:`dualdb.report.html`. Both renderers take the typed
:class:`~dualdb.report.model.Report`, whether it comes from a live run or from a
saved ``dualdb.json`` (:func:`~dualdb.report.model.read_report`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from dualdb.records import CapturedStatement, Difference, ErrorRecord
from dualdb.report.model import BACKENDS, VERDICTS, Report, TestEntry

__all__ = ["render_markdown", "md_text", "md_code", "md_fence", "mask_url"]

BACKEND_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
VERDICT_LABELS = {
    "same": "Same",
    "diverged": "Diverged",
    "known": "Known",
    "failed_both": "Failed on both",
    "skipped": "Skipped",
}
#: Order tests are listed in: what needs attention first.
VERDICT_ORDER = {"diverged": 0, "failed_both": 1, "known": 2, "skipped": 3, "same": 4}

#: Step summaries are limited to 1 MiB: past this many detailed tests the rest are listed only.
MAX_DETAILS = 200
MAX_ROWS = 20
MAX_BLOCK_CHARS = 4000
CELL_CHARS = 80

# --------------------------------------------------------------------------- shared helpers

# user:password@ up to the last "@" of the authority, so a raw "@" in the password is hidden too.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^\s/?#]*@")
_KW_PASSWORD = re.compile(r"(?i)(?P<head>\bpassword\s*=\s*)(?:'[^']*'|\"[^\"]*\"|[^\s&;]*)")


def mask_url(url: Any) -> str:
    """Hide the password of a database URL (``user:***@host``), even if the caller forgot."""
    if url is None:
        return ""
    text = str(url)
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    return _KW_PASSWORD.sub(r"\g<head>***", text)


def backend_label(name: str) -> str:
    return BACKEND_LABELS.get(name, str(name))


def backend_names(names: Iterable[str] = ()) -> list[str]:
    """The two standard backends first, then any other name given (in its order)."""
    out = list(BACKENDS)
    for name in names:
        if name not in out:
            out.append(name)
    return out


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def one_line(text: Any) -> str:
    """Collapse line breaks (``\\r\\n``, ``\\n``, ``\\r`` and friends) into ``⏎``."""
    return " ⏎ ".join(str(text).splitlines()) if text is not None else ""


_ENCODE = json.JSONEncoder(ensure_ascii=False, default=str).encode


def to_json(value: Any) -> str:
    """Compact JSON text for a normalised value (what the comparer saw)."""
    try:
        return _ENCODE(value)
    except (TypeError, ValueError):  # circular or exotic: still show something
        return repr(value)


def value_text(value: Any, max_rows: int = MAX_ROWS) -> str:
    """Multi-line text for a value: a list of rows is shown one row per line."""
    if isinstance(value, list) and value and all(isinstance(r, (list, tuple)) for r in value):
        lines = [to_json(r) for r in value[:max_rows]]
        if len(value) > max_rows:
            lines.append(f"… {len(value) - max_rows} more rows")
        return "\n".join(lines)
    return to_json(value)


def error_text(error: ErrorRecord | str | None) -> str:
    """``Type: message`` for a leg's or a statement's error; a text (a schema finding's) as it is."""
    if not error:
        return ""
    if isinstance(error, str):
        return error
    etype = error.type or "Error"
    return f"{etype}: {error.message}" if error.message else etype


def result_text(stmt: CapturedStatement | None, max_rows: int = MAX_ROWS) -> str:
    """What a captured statement returned: its error, its rows, or its row count."""
    if stmt is None:
        return ""
    if stmt.error:
        return "ERROR " + error_text(stmt.error)
    rows = stmt.rows
    rowcount = stmt.rowcount
    if rows is not None:
        if not isinstance(rows, list):
            return to_json(rows)
        lines = [to_json(r) for r in rows[:max_rows]]
        if len(rows) > max_rows:
            lines.append(f"… {len(rows) - max_rows} more rows")
        lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
        return "\n".join(lines)
    parts = []
    if rowcount is not None and rowcount != -1:
        parts.append(f"rowcount = {rowcount}")
    if stmt.digest:
        parts.append(f"digest {stmt.digest}")
    return "\n".join(parts) or "(no result)"


def statements_of(test: TestEntry, backend: str) -> list[CapturedStatement]:
    leg = test.legs.get(backend)
    return leg.statements if leg is not None else []


def statement_at(test: TestEntry, backend: str, index: Any) -> CapturedStatement | None:
    statements = statements_of(test, backend)
    if isinstance(index, int) and 0 <= index < len(statements):
        return statements[index]
    return None


def diff_values(fd: Difference | None) -> dict[str, Any]:
    """``values`` of a difference, per backend (none for an outcome difference without them)."""
    return fd.values if fd is not None and isinstance(fd.values, dict) else {}


def diff_statement_index(test: TestEntry, fd: Difference, backend: str) -> int | None:
    """Where a statement difference sits in ``backend``'s statement list.

    ``index`` counts in the first (SQLite) leg; the comparer aligns statements by
    shape, so the other leg's position may differ: ``index_other`` is it, as the
    comparer aligned them. Without it (a difference written by hand), the other
    leg's statement is found by its SQL (and parameters), nearest to ``index``.
    """
    index = fd.index
    if backend == BACKENDS[1] and isinstance(fd.index_other, int):
        return fd.index_other
    if not isinstance(index, int):
        return None
    statements = statements_of(test, backend)
    sql = fd.sql or {}
    if backend == BACKENDS[0] or sql.get(backend) is None:
        return index if 0 <= index < len(statements) else None
    same_sql = [j for j, st in enumerate(statements) if st.sql == sql[backend]]
    same_params = [j for j in same_sql if statements[j].params == fd.params]
    candidates = same_params or same_sql
    if not candidates:
        return None
    return min(candidates, key=lambda j: (abs(j - index), j))


def result_value_text(value: Any) -> str:
    """A statement result as the comparer records it: rows, ``{"error": …}`` or ``{"rowcount": n}``."""
    if isinstance(value, dict) and len(value) == 1:
        if "error" in value:
            return f"ERROR {value['error']}"
        if "rowcount" in value:
            return f"rowcount = {value['rowcount']}"
    if isinstance(value, list):
        text = value_text(value)
        return f"{text}\n({len(value)} row{'s' if len(value) != 1 else ''})" if value else "(no rows)"
    return value_text(value)


@dataclass
class StatementSide:
    """One engine's side of a differing statement, as both renderers show it."""

    backend: str
    sql: str
    params: Any
    result: str
    index: int | None


def statement_sides(test: TestEntry, fd: Difference) -> list[StatementSide]:
    """Per backend, the differing statement: its SQL, parameters and result."""
    values = diff_values(fd)
    sql_map = fd.sql or {}
    sides = []
    for b in backend_names({**dict.fromkeys(test.legs), **values, **sql_map}):
        index = diff_statement_index(test, fd, b)
        stmt = statement_at(test, b, index)
        sql = sql_map.get(b)
        if sql is None and stmt is not None:
            sql = stmt.sql
        if sql is None and stmt is None and b not in values:
            continue
        params = fd.params
        result = result_value_text(values[b]) if b in values else result_text(stmt)
        sides.append(StatementSide(b, "" if sql is None else str(sql), params, result, index))
    return sides


def has_params(params: Any) -> bool:
    return params not in (None, [], {}, ())


def missing_text(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("$missing") is True and len(value) == 1:
        return "(not observed)"
    return None


def leg_brief(test: TestEntry, backend: str, limit: int = CELL_CHARS) -> str:
    """One line for a table cell: the leg's outcome and error, or the differing value."""
    leg = test.legs.get(backend)
    if leg is None:
        return "—"
    outcome = leg.outcome or "?"
    if leg.error:
        return clip(one_line(f"{outcome}: {error_text(leg.error)}"), limit)
    values = diff_values(test.first_difference)
    if test.kind == "value" and backend in values:
        value = values[backend]
        return clip(one_line(missing_text(value) or to_json(value)), limit)
    return outcome


def difference_title(fd: Difference) -> str:
    """``statement 3``, ``observation "total"``, ``outcome`` … (numbers are 1-based)."""
    source = fd.source or "difference"
    index = fd.index
    label = fd.label
    text = source
    if source == "statement" and isinstance(index, int):
        text += f" {index + 1}"
    if source != "outcome":
        if label:
            text += f" {to_json(str(label))}"
        elif isinstance(index, int) and source != "statement":
            text += f" #{index + 1}"
    return text


def sorted_tests(tests: list[TestEntry]) -> list[TestEntry]:
    return sorted(tests, key=lambda t: VERDICT_ORDER.get(t.verdict, 5))


def category_of(test: TestEntry) -> str:
    return test.category or "other"


def baseline_groups(report: Report) -> tuple[list[str], list[str], list[str]]:
    """(new node ids, accepted node ids, disappeared node ids) of a run with a baseline."""
    info = report.baseline
    new = [t.nodeid for t in report.tests if t.baseline == "new"]
    accepted = [t.nodeid for t in report.tests if t.baseline == "accepted"]
    if info is None:
        return new, accepted, []
    return new or list(info.new), accepted or list(info.accepted), list(info.disappeared)


# --------------------------------------------------------------------------- markdown escaping

_TEXT_SPECIAL = re.compile(r"([\\`*\[\]<>&~|])|(?<!\w)_|_(?!\w)")
# What would start a heading, list or thematic break at the start of a line.
_LINE_START = re.compile(r"^(\s*)(?:([#+=\-])(?=[\s#=\-]|$)|(\d+)([.)])(?=\s|$))")
_BACKTICKS = re.compile(r"`+")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def _escape_char(m: re.Match) -> str:
    return "\\" + m.group(0)


def md_text(text: Any) -> str:
    """Plain text on one line, every Markdown/HTML-significant character backslash-escaped.

    Safe in a paragraph, a list item and a table cell (``|`` is escaped as ``\\|``).
    """
    if text is None:
        return ""
    text = _TEXT_SPECIAL.sub(_escape_char, one_line(text))
    return _LINE_START.sub(_escape_line_start, text, count=1)


def _escape_line_start(m: re.Match) -> str:
    if m.group(2):
        return f"{m.group(1)}\\{m.group(2)}"
    return f"{m.group(1)}{m.group(3)}\\{m.group(4)}"


def md_code(text: Any, limit: int | None = None, *, table: bool = False) -> str:
    """An inline code span for a value, on one line; ``table=True`` for a table cell.

    In a GFM table cell ``|`` must be written ``\\|`` even inside a code span (the
    table parser removes that backslash before the span is parsed); anywhere else
    the backslash would show, so it is only added for tables.
    """
    text = one_line(text)
    if limit is not None:
        text = clip(text, limit)
    if not text:
        return ""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " "):
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return fence + text + fence


def md_fence(text: Any, lang: str = "", limit: int = MAX_BLOCK_CHARS) -> str:
    """A fenced code block whose fence is longer than any backtick run in ``text``."""
    text = "" if text is None else str(text)
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters)"
    text = "\n".join(text.splitlines())
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def md_prose(text: Any) -> str:
    """Text written for humans (explanations, warnings): keeps `code spans`, escapes HTML.

    Markdown outside code spans is left alone (the knowledge base may use it), but
    ``<``, ``>`` and ``&`` are escaped so no HTML can get through.
    """
    if text is None:
        return ""
    text = str(text)
    out = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        out.append(_escape_prose(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_escape_prose(text[pos:]))
    return "".join(out)


def _escape_prose(text: str) -> str:
    return re.sub(r"([<>&`\\|])", r"\\\1", text)


def _table(headers: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    align = align or ["---"] * len(headers)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


# --------------------------------------------------------------------------- sections


def engines_shown(report: Report) -> list[tuple[str, Any, list[tuple[str, str]]]]:
    """The engines a report names, in display order, each with its other settings as text
    (empty ones left out): what the Markdown and HTML headers both show."""
    shown = []
    for name in backend_names(report.backends or {}):
        info = (report.backends or {}).get(name)
        if info is None:
            continue
        details = [(key, value if isinstance(value, str) else to_json(value))
                   for key, value in info.details().items() if value not in ("", [], {})]
        shown.append((name, info, details))
    return shown


def _engines(report: Report) -> list[str]:
    backends = report.backends
    if not backends:
        return []
    lines = ["**Engines**", ""]
    for name, info, details in engines_shown(report):
        parts = [f"**{md_text(backend_label(name))}**"]
        if info.version:
            parts.append(md_text(info.version))
        extra = []
        if info.url:
            extra.append(md_code(mask_url(info.url)))
        for key, value in details:
            extra.append(f"{md_text(key)} {md_code(value)}")
        line = "- " + " ".join(parts)
        if extra:
            line += " — " + ", ".join(extra)
        lines.append(line)
    lines.append("")
    return lines


def _warnings(report: Report) -> list[str]:
    warnings = [w for w in report.warnings if w]
    if not warnings:
        return []
    lines = ["> [!WARNING]"]
    for w in warnings:
        lines.append("> - " + md_prose(one_line(w)))
    lines.append("")
    return lines


def _summary(summary: dict[str, int]) -> list[str]:
    headers = ["Tests"] + [VERDICT_LABELS[v] for v in VERDICTS]
    row = [str(summary["tests"])] + [str(summary[v]) for v in VERDICTS]
    return ["## Summary", ""] + _table(headers, [row], ["---:"] * len(headers)) + [""]


def _category_tables(diverged: list[TestEntry]) -> list[str]:
    if not diverged:
        return []
    by_cat: dict[str, list[TestEntry]] = {}
    for t in diverged:
        by_cat.setdefault(category_of(t), []).append(t)
    lines = ["## Divergences by category", ""]
    for cat in sorted(by_cat, key=lambda c: (-len(by_cat[c]), c)):
        tests = by_cat[cat]
        lines.append(f"### {md_text(cat)} ({len(tests)})")
        lines.append("")
        rows = []
        for t in tests:
            rows.append(
                [
                    md_code(t.nodeid, 120, table=True),
                    md_text(t.kind or "—"),
                    md_code(leg_brief(t, "sqlite"), table=True) or "—",
                    md_code(leg_brief(t, "postgresql"), table=True) or "—",
                ]
            )
        lines += _table(["Test", "Kind", "SQLite", "PostgreSQL"], rows)
        lines.append("")
    return lines


def _known_table(known: list[TestEntry]) -> list[str]:
    if not known:
        return []
    rows = [
        [
            md_code(t.nodeid, 120, table=True),
            md_text(category_of(t)),
            md_text(clip(one_line(t.known_reason or "—"), 200)),
        ]
        for t in known
    ]
    return ["## Acknowledged divergences (known)", ""] + _table(["Test", "Category", "Reason"], rows) + [""]


def _failed_both_table(failed: list[TestEntry]) -> list[str]:
    if not failed:
        return []
    rows = [
        [md_code(t.nodeid, 120, table=True)]
        + [md_code(leg_brief(t, b), table=True) or "—" for b in ("sqlite", "postgresql")]
        for t in failed
    ]
    return (
        [
            "## Failed on both engines",
            "",
            "Same failure on both engines: a bug in the test or the code, not a dialect difference.",
            "",
        ]
        + _table(["Test", "SQLite", "PostgreSQL"], rows)
        + [""]
    )


def _value_lines(label: str, value: Any) -> list[str]:
    missing = missing_text(value)
    if missing:
        return [f"- {label}: *{missing}*"]
    text = value_text(value)
    if "\n" not in text and len(text) <= 100:
        return [f"- {label}: {md_code(text)}"]
    return [f"- {label}:", "", md_fence(text, "json"), ""]


def _statement_lines(test: TestEntry, fd: Difference) -> list[str]:
    """SQL and result of a differing statement on each engine (SQL once when identical)."""
    lines: list[str] = []
    sides = statement_sides(test, fd)
    blocks = []
    for side in sides:
        block = side.sql
        if has_params(side.params):
            block += f"\n-- params: {one_line(to_json(side.params))}"
        blocks.append(block)
    shared = len(sides) > 1 and len(set(blocks)) == 1 and blocks[0]
    if shared:
        lines += ["Statement (same on both engines):", "", md_fence(shared, "sql"), ""]
    for side, block in zip(sides, blocks):
        label = md_text(backend_label(side.backend))
        if shared:
            lines += [f"{label} returned:", ""]
        else:
            lines += [f"{label}:", ""]
            if block:
                lines += [md_fence(block, "sql"), ""]
        if side.result:
            lines += [md_fence(side.result, "text"), ""]
    return lines


def _first_difference(test: TestEntry) -> list[str]:
    fd = test.first_difference
    if fd is None:
        return []
    source = fd.source
    lines = [f"**First difference:** {md_text(difference_title(fd))}"]
    if fd.shape:
        lines[0] += f" ({md_text(fd.shape)})"
    lines.append("")
    values = diff_values(fd)
    names = backend_names({**dict.fromkeys(test.legs), **values})
    if source == "statement":
        lines += _statement_lines(test, fd)
    elif source == "outcome":
        for b in names:
            leg = test.legs.get(b)
            if leg is None:
                continue
            line = f"- {md_text(backend_label(b))}: {md_text(leg.outcome or '?')}"
            if leg.error:
                line += " — " + md_code(clip(error_text(leg.error), 300))
            lines.append(line)
        lines.append("")
        evidence = fd.statement
        if evidence is not None:
            where = evidence.index
            at = f" at statement {where + 1}" if isinstance(where, int) else ""
            lines += [f"Where the engines parted{at}:", ""]
            lines += _statement_lines(test, evidence)
    else:
        for b in names:
            if b in values:
                lines += _value_lines(md_text(backend_label(b)), values[b])
        lines.append("")
    if fd.note:
        lines += [f"*Note:* {md_text(fd.note)}", ""]
    return lines


def _leg_errors(test: TestEntry) -> list[str]:
    lines = []
    for b in backend_names(test.legs):
        leg = test.legs.get(b)
        if leg is not None and leg.error:
            outcome = md_text(leg.outcome or "?")
            error = md_code(clip(error_text(leg.error), 300))
            lines.append(f"- {md_text(backend_label(b))} ({outcome}): {error}")
    return lines + [""] if lines else []


def _explanation(test: TestEntry) -> list[str]:
    expl = test.explanation
    if expl is None:
        return []
    lines = []
    lines += [f"**Explanation: {md_prose(one_line(expl.title))}**" if expl.title else "**Explanation**", ""]
    if expl.why:
        lines += [f"**Why:** {md_prose(expl.why)}", ""]
    if expl.fix:
        lines += [f"**Fix:** {md_prose(expl.fix)}", ""]
    if expl.rule:
        lines += [f"*Rule:* {md_code(expl.rule)}", ""]
    return lines


def _rerun(test: TestEntry) -> list[str]:
    """What running the diverged test again showed."""
    rerun = test.rerun
    if rerun is None:
        return []
    changed = ", ".join(backend_label(b) for b in rerun.nondeterministic)
    if rerun.reproduced:
        text = f"**Re-run:** diverged again ({rerun.runs} re-run)"
        if changed:
            text += f"; results changed between runs on {md_text(changed)}"
    else:
        text = (f"**Re-run:** did not reproduce — {md_text(changed or 'the test')} gave another result when run "
                "again, so this is nondeterminism, not an engine difference; not counted by `--dualdb-strict`")
    return [text, ""]


def _other_differences(test: TestEntry) -> list[str]:
    """The independent differences after the primary one, each with its category and fix."""
    others = test.differences[1:]
    if not others:
        return []
    lines = ["**Other differences in this test:**", ""]
    for d in others:
        title, fix = (d.explanation.title, d.explanation.fix) if d.explanation is not None else ("", "")
        repeats = f" (×{d.repeats})" if d.repeats > 1 else ""
        where = d.label or (one_line((d.sql or {}).get("sqlite") or ""))
        lines.append(f"- **{md_text(d.category or 'other')}**{repeats}: {md_prose(one_line(title or ''))}"
                     + (f" — at {md_code(where, 80)}" if where else "") + (f". Fix: {md_prose(fix)}" if fix else ""))
    return lines + [""]


def _notes(test: TestEntry) -> list[str]:
    notes = [n for n in test.harness_notes if n]
    for b in backend_names(test.legs):
        leg = test.legs.get(b)
        for n in leg.notes if leg is not None else []:
            if n:
                notes.append(f"{backend_label(b)}: {n}")
    if not notes:
        return []
    return ["**Harness notes:**", ""] + [f"- {md_text(n)}" for n in notes] + [""]


def _details(tests: list[TestEntry], max_details: int) -> list[str]:
    if not tests:
        return []
    lines = ["## Details", ""]
    for t in tests[:max_details]:
        head = f"### {md_code(t.nodeid)}"
        lines += [head, ""]
        meta = [f"verdict **{md_text(t.verdict)}**"]
        if t.category:
            meta.append(f"category **{md_text(t.category)}**")
        if t.kind:
            meta.append(f"kind **{md_text(t.kind)}**")
        if t.baseline:
            meta.append(f"baseline **{md_text(t.baseline)}**")
        lines += [" · ".join(meta), ""]
        if t.known_reason:
            lines += [f"**Known:** {md_text(t.known_reason)}", ""]
        lines += _rerun(t)
        lines += _first_difference(t)
        if t.first_difference is None or t.first_difference.source != "outcome":
            lines += _leg_errors(t)
        lines += _explanation(t)
        lines += _other_differences(t)
        lines += _notes(t)
    rest = len(tests) - max_details
    if rest > 0:
        lines += [f"*… and {rest} more; see `dualdb.html` or `dualdb.json` for all of them.*", ""]
    return lines


def _schema_findings(report: Report) -> list[str]:
    findings = report.schema_findings
    if not findings:
        return []
    rows = []
    for f in findings:
        rows.append(
            [
                md_text(f.kind or "—"),
                md_text(backend_label(f.backend) if f.backend else "—"),
                md_code(f.name, 80, table=True) or "—",
                md_text(f.category or "—"),
                md_code(error_text(f.error), 200, table=True) or "—",
                md_text(clip(one_line(f.fix or "—"), 300)),
            ]
        )
    return ["## Schema findings", ""] + _table(["Kind", "Backend", "Name", "Category", "Error", "Fix"], rows) + [""]


def _id_list(title: str, ids: list[str], limit: int = 100) -> list[str]:
    if not ids:
        return []
    lines = [f"**{title}** ({len(ids)})", ""]
    lines += [f"- {md_code(i)}" for i in ids[:limit]]
    if len(ids) > limit:
        lines.append(f"- … {len(ids) - limit} more")
    return lines + [""]


def _baseline(report: Report) -> list[str]:
    if report.baseline is None:
        return []
    new, accepted, disappeared = baseline_groups(report)
    lines = ["## Baseline", ""]
    source = report.baseline.file
    intro = f"Compared with {md_code(source)}: " if source else ""
    lines += [f"{intro}**{len(new)}** new, **{len(accepted)}** accepted, **{len(disappeared)}** disappeared.", ""]
    lines += _id_list("New divergences", new)
    lines += _id_list("Accepted (in the baseline)", accepted)
    lines += _id_list("Disappeared (in the baseline, no longer diverging)", disappeared)
    return lines


def render_markdown(report: Report, *, max_details: int = MAX_DETAILS) -> str:
    """The whole report as GitHub-flavoured Markdown (ends with a newline).

    At most ``max_details`` tests get a detailed section (GitHub caps a step summary
    at 1 MiB); every diverged test is still listed in its category table.
    """
    tests = sorted_tests(report.tests)
    s = report.summary
    diverged = [t for t in tests if t.verdict == "diverged"]
    known = [t for t in tests if t.verdict == "known"]
    failed = [t for t in tests if t.verdict == "failed_both"]

    if s["diverged"]:
        headline = f"{s['diverged']} of {s['tests']} tests behave differently on SQLite and PostgreSQL"
    elif s["tests"]:
        headline = f"all {s['tests']} tests behave the same on SQLite and PostgreSQL"
    else:
        headline = "no database tests were recorded"
    lines = ["# pytest-dualdb report", "", md_text(headline[0].upper() + headline[1:]) + ".", ""]
    lines += _engines(report)
    lines += _warnings(report)
    lines += _summary(s)
    lines += _category_tables(diverged)
    lines += _known_table(known)
    lines += _failed_both_table(failed)
    lines += _schema_findings(report)
    lines += _baseline(report)
    lines += _details(diverged + known, max_details)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"
