"""``--dualdb-baseline``: accept the divergences a previous run already knew about.

A baseline is either a previous ``dualdb.json`` (its diverged and known tests
are accepted) or a text file with one node id per line (``#`` comments
allowed; a line may be pasted from pytest's output, backend and all). With ``--dualdb-strict`` only *new* divergences fail the run; the
report says which are new, which were accepted, and which accepted ones no
longer diverge (fixed, or the test is gone).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import ConfigError
from .leg_outcome import base_nodeid
from .report.model import Report

ACCEPTED_VERDICTS = ("diverged", "known")


def load_baseline(path: Path) -> set[str]:
    """The test ids (node ids without the backend, as in the report) the baseline accepts."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--dualdb-baseline: cannot read {path}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--dualdb-baseline: {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if data.get("schema") != "dualdb-report/1":
            raise ConfigError(f"--dualdb-baseline: {path} is not a dualdb.json report")
        return {t["nodeid"] for t in data.get("tests", []) if t.get("verdict") in ACCEPTED_VERDICTS}
    ids = set()
    for line in text.splitlines():
        nodeid = nodeid_in_line(line)
        if nodeid:
            ids.add(base_nodeid(nodeid))
    return ids


_STATUS = r"(?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)"


def nodeid_in_line(line: str) -> str:
    """The node id on a line of a node-id file: bare, or as pytest printed it.

    ``t.py::test_x[1-sqlite]``, ``FAILED t.py::test_x[1-sqlite] - AssertionError: ...``
    (the short test summary) and ``t.py::test_x[1-sqlite] PASSED  [ 50%]`` (``-v``)
    all name ``t.py::test_x[1-sqlite]``. ``#`` starts a comment at the start of
    the line or after a space (a parameter id may contain ``#``).
    """
    line = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
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
    report.baseline = {
        "file": source,
        "new": new,
        "accepted": kept,
        "disappeared": sorted(accepted - diverged_now),
    }
