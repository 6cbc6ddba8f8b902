"""What a run already knew about: ``--dualdb-baseline`` and ``dualdb_known_schema``.

A baseline is either a previous ``dualdb.json`` (its diverged and known tests
and its schema findings are accepted) or a text file, one entry per line
(``#`` comments allowed): a node id (a line may be pasted from pytest's output,
backend and all), or for schema findings an Alembic revision id or a finding id
(``migration:sqlite:c3``, ``drift:sqlite:foreign key posts(author_id) -> users(id)``).
The ini key ``dualdb_known_schema`` lists revision and finding ids the same way,
in the project's configuration. With ``--dualdb-strict`` only what is not
acknowledged fails the run; the report says which divergences and findings are
new, which were accepted, and which accepted ones are gone (fixed, or the test is gone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from dualdb.errors import ConfigError, ReportFileError
from dualdb.ids import base_nodeid
from dualdb.records import BaselineInfo, SchemaFinding
from dualdb.report.model import Report

ACCEPTED_VERDICTS = ("diverged", "known")
KNOWN_SCHEMA_INI = "dualdb_known_schema"


@dataclass
class Baseline:
    """The test ids (node ids without the backend, as in the report) and schema keys accepted."""

    tests: set[str] = field(default_factory=set)
    schema: set[str] = field(default_factory=set)  # revision ids and finding ids


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; a file that can't be read or parsed is a ``ConfigError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--dualdb-baseline: cannot read {path}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        try:
            report = Report.from_json(text, path)
        except ReportFileError as exc:
            raise ConfigError(f"--dualdb-baseline: {exc}") from None
        return Baseline(
            tests={t.nodeid for t in report.tests if t.verdict in ACCEPTED_VERDICTS},
            schema={finding_id(f) for f in report.schema_findings},
        )
    baseline = Baseline()
    for line in text.splitlines():
        entry = nodeid_in_line(line)
        if "::" in entry:  # every test's node id has one; revision and finding ids don't
            baseline.tests.add(base_nodeid(entry))
        elif entry:
            baseline.schema.add(schema_key(entry))
    return baseline


_STATUS = r"(?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)"


def strip_comment(line: str) -> str:
    """``#`` starts a comment at the start of a line or after a space (a parameter id may contain ``#``)."""
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()


def nodeid_in_line(line: str) -> str:
    """The node id on a line of a node-id file: bare, or as pytest printed it.

    ``t.py::test_x[1-sqlite]``, ``FAILED t.py::test_x[1-sqlite] - AssertionError: ...``
    (the short test summary) and ``t.py::test_x[1-sqlite] PASSED  [ 50%]`` (``-v``)
    all name ``t.py::test_x[1-sqlite]``.
    """
    line = strip_comment(line)
    summary = re.match(rf"{_STATUS}\s+(\S.*?)(?:\s+-\s.*)?$", line)
    if summary:
        return summary.group(1)
    verbose = re.match(rf"(\S.*?)\s+{_STATUS}(?:\s.*)?$", line)
    return verbose.group(1) if verbose else line


def apply_baseline(report: Report, accepted: set[str], source: str) -> None:
    """Mark each diverged test new or accepted, and record what disappeared."""
    diverged_now = set()
    new, kept = [], []
    for entry in report.tests:
        if entry.verdict not in ACCEPTED_VERDICTS:
            continue
        diverged_now.add(entry.nodeid)
        if entry.verdict == "diverged":
            entry.baseline = "accepted" if entry.nodeid in accepted else "new"
            (kept if entry.baseline == "accepted" else new).append(entry.nodeid)
    report.baseline = BaselineInfo(file=source, new=new, accepted=kept, disappeared=sorted(accepted - diverged_now))


# -- schema findings ------------------------------------------------------------------


def schema_key(text: str) -> str:
    """A revision or finding id as written by hand: surrounding and repeated spaces don't count."""
    return " ".join(text.split())


def finding_id(finding: SchemaFinding) -> str:
    """The stable id of a schema finding, as the report prints it and a baseline or
    ``dualdb_known_schema`` line names it: ``migration:<backend>:<revision>`` for a
    revision that failed, ``drift:<backend>:<what>`` for one-engine drift (``what``
    comes from the schema, e.g. ``foreign key posts(author_id) -> users(id)``)."""
    kind = finding.kind or "schema"
    backend = finding.backend or "-"
    if kind == "migration":
        what = finding.revision or finding.name
    else:
        what = finding.name or finding.revision
    return schema_key(f"{kind}:{backend}:{what}")


def known_schema_lines(lines: Iterable[str]) -> tuple[str, ...]:
    """The ``dualdb_known_schema`` ini lines as keys (comments and blank lines dropped)."""
    keys = (schema_key(strip_comment(str(line))) for line in lines)
    return tuple(dict.fromkeys(k for k in keys if k))


def acknowledge_schema(
    report: Report, known: Iterable[str], baseline: set[str] | None
) -> tuple[list[SchemaFinding], dict[str, list[str]]]:
    """Mark each schema finding with its ``id`` and what acknowledged it, if anything.

    A key acknowledges a finding when it is the finding's id or its revision.
    Returns the findings nothing acknowledged, and the keys that matched no
    finding (``dualdb_known_schema`` lines and baseline entries that are stale).
    """
    known = list(known)
    report.schema_findings = [replace(f) for f in report.schema_findings]  # the run's own findings stay as they were
    sources = [(KNOWN_SCHEMA_INI, set(known)), ("baseline", set(baseline or ()))]
    used: set[str] = set()
    blocking = []
    for finding in report.schema_findings:
        fid = finding.id = finding_id(finding)
        keys = {fid} | ({schema_key(str(finding.revision))} if finding.revision else set())
        finding.acknowledged = None
        for source, accepted in sources:
            matched = keys & accepted
            if matched:
                used.update(matched)
                finding.acknowledged = finding.acknowledged or source
        if finding.acknowledged is None:
            blocking.append(finding)
    if report.baseline is not None and baseline is not None:
        report.baseline.schema_new = [f.id for f in blocking]
        report.baseline.schema_accepted = [f.id for f in report.schema_findings if f.acknowledged == "baseline"]
        report.baseline.schema_disappeared = sorted(set(baseline) - used)
    stale = {
        KNOWN_SCHEMA_INI: [k for k in known if k not in used],
        "baseline": sorted(set(baseline or ()) - used),
    }
    return blocking, stale
