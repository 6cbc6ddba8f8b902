"""``--dualdb-baseline``: accept the divergences a previous run already knew about.

A baseline is either a previous ``dualdb.json`` (its diverged and known tests
are accepted) or a text file with one node id per line (``#`` comments
allowed). With ``--dualdb-strict`` only *new* divergences fail the run; the
report says which are new, which were accepted, and which accepted ones no
longer diverge (fixed, or the test is gone).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import ConfigError
from .report.model import Report

ACCEPTED_VERDICTS = ("diverged", "known")


def load_baseline(path: Path) -> set[str]:
    """The node ids (without ``[backend]``) the baseline accepts."""
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
        line = line.split("#", 1)[0].strip()
        if line:
            ids.add(re.sub(r"\[(sqlite|postgresql)\]$", "", line))
    return ids


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
