"""The teaching catalog as a test set for the knowledge base.

Every probe in ``probes/`` carries ``@pytest.mark.probe(category=..., expect=...)``.
One ``pytest probes --dual-db`` run (a subprocess against the session's
PostgreSQL server) must reproduce each probe's verdict, and the category the
explanation rules assign (``tests[].category`` of ``dualdb.json``) must agree
with the probe's marker for at least 95% of the divergent probes. The rules never
see the markers: a small plugin dumps them to a file of their own, read only here.

Probes marked ``needs="linguistic"`` diverge only on a server with a linguistic
collation (ICU or an ``en_US`` locale); on a ``C``-collation server they are not
checked, as ``dualdb probes`` does. Probes marked ``needs="icu"`` need ICU's Unicode
rules (``upper('ß')`` is ``SS``), which a libc locale lacks: they are checked only on ICU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
AGREEMENT = 0.95

MARKER_PLUGIN = '''
"""Dump each probe's marker as {base node id: marker kwargs} to $DUALDB_PROBE_MARKERS."""
import json
import os

from dualdb.ids import base_nodeid


def pytest_collection_modifyitems(session, config, items):
    out = {}
    for item in items:
        marker = item.get_closest_marker("probe")
        backend = getattr(getattr(item, "callspec", None), "params", {}).get("dualdb_backend", "")
        out[base_nodeid(item.nodeid, backend)] = dict(marker.kwargs) if marker else {}
    with open(os.environ["DUALDB_PROBE_MARKERS"], "w") as fh:
        json.dump(out, fh)
'''


@pytest.fixture(scope="module")
def catalog_run(tmp_path_factory, pg_url):  # noqa: ANN001
    """Run the catalog once: ``(markers, report)``."""
    root = tmp_path_factory.mktemp("probe-categories")
    (root / "dualdb_probe_markers.py").write_text(MARKER_PLUGIN)
    markers_file, report_dir = root / "markers.json", root / "report"
    env = dict(os.environ, DUALDB_PG_URL=pg_url, DUALDB_PROBE_MARKERS=str(markers_file))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "probes"), "--dual-db", "-p", "no:cacheprovider",
         "-q", "--tb=no", "--dualdb-report-dir", str(report_dir), "-p", "dualdb_probe_markers"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    report_file = report_dir / "dualdb.json"
    assert report_file.exists() and markers_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(markers_file.read_text()), json.loads(report_file.read_text())


def _probes(markers: dict, report: dict) -> tuple[dict, dict, str]:
    """``(probes with a marker, report entries by node id, the server's collation)``."""
    collation = report["backends"].get("postgresql", {}).get("collation") or "C"
    probes = {nodeid: info for nodeid, info in markers.items() if info.get("expect")}
    entries = {t["nodeid"]: t for t in report["tests"]}
    return probes, entries, collation


def _applicable(info: dict, collation: str) -> bool:
    needs = info.get("needs")
    if needs == "icu":
        return collation.endswith("-x-icu")
    return collation != "C" or needs != "linguistic"


def test_the_catalog_has_many_divergent_probes(catalog_run):
    markers, report = catalog_run
    probes, entries, _ = _probes(markers, report)
    divergent = [n for n, info in probes.items() if info["expect"] == "diverged"]
    assert len(divergent) >= 100 and len(probes) - len(divergent) >= 50
    assert set(probes) <= set(entries), sorted(set(probes) - set(entries))[:10]


def test_every_probe_has_its_expected_verdict(catalog_run):
    markers, report = catalog_run
    probes, entries, collation = _probes(markers, report)
    wrong = [
        f"{nodeid}: expected {info['expect']}, got {entries[nodeid]['verdict']}"
        for nodeid, info in sorted(probes.items())
        if nodeid in entries and _applicable(info, collation) and entries[nodeid]["verdict"] != info["expect"]
    ]
    assert not wrong, "\n".join(wrong)


def test_rules_assign_the_probe_categories(catalog_run):
    markers, report = catalog_run
    probes, entries, collation = _probes(markers, report)
    checked, disagreements = 0, []
    for nodeid, info in sorted(probes.items()):
        entry = entries.get(nodeid)
        if info["expect"] != "diverged" or entry is None or entry["verdict"] != "diverged":
            continue
        if not _applicable(info, collation):
            continue
        checked += 1
        if entry["category"] != info["category"]:
            rule = (entry.get("explanation") or {}).get("rule")
            disagreements.append(f"{nodeid}: probe says {info['category']}, rule {rule} says {entry['category']}")
    agreement = 1 - len(disagreements) / checked
    print(f"category agreement: {checked - len(disagreements)}/{checked} = {agreement:.1%}")
    print("\n".join(disagreements))
    assert checked >= 90
    assert agreement >= AGREEMENT, f"{agreement:.1%} < {AGREEMENT:.0%}:\n" + "\n".join(disagreements)
