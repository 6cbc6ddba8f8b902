"""The ledger of runs: a record per started server, and reaping what a killed run left behind.

Every server is recorded in ``<cache>/runs`` before anything starts; the
next start reaps the servers and run folders whose pytest process is gone.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dualdb.engines.server.files import default_cache_dir, now
from dualdb.engines.server.process import alive, is_postmaster_of, kill_children, process_started, remove_run_dir, shutdown

if TYPE_CHECKING:
    from dualdb.engines.server.local import LocalServer



def record_database(server: LocalServer, name: str) -> None:
    """Note a database created on ``server`` so a reaper knows what this run made."""
    data = read_record(server.record) or {}
    names = list(dict.fromkeys([*data.get("databases", []), name]))
    update_record(server.record, databases=names)


def forget_database(server: LocalServer, name: str) -> None:
    """Undo ``record_database`` once the database has been dropped."""
    data = read_record(server.record) or {}
    update_record(server.record, databases=[n for n in data.get("databases", []) if n != name])


def reap_leftovers(state_dir: Path | None = None) -> list[str]:
    """Clean up after runs whose pytest process died without stopping its server.

    For every record whose owner is gone: kill its postmaster if it is still
    alive (after checking the pid still is that postmaster), delete its run
    folder and the record. Returns one human-readable line per action.
    Records are claimed by an atomic rename, so concurrent reapers never
    handle the same one twice.
    """
    state_dir = Path(state_dir) if state_dir is not None else default_cache_dir() / "runs"
    if not state_dir.is_dir():
        return []
    lines: list[str] = []
    for path in sorted(state_dir.iterdir()):
        claimed = claim_if_orphaned(path)
        if claimed is None:
            continue
        lines.extend(_reap_record(read_record(claimed) or {}))
        claimed.unlink(missing_ok=True)
    return lines


def write_record(path: Path, *, run_dir: Path) -> None:
    """Written before anything is started, so even a crash mid-start leaves a record to reap."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "owner_pid": os.getpid(),
        "owner_started": process_started(os.getpid()),
        "postmaster_pid": None,
        "run_dir": str(run_dir),
        "databases": [],
        "started_at": now(),
    }
    atomic_write_json(path, data)


def update_record(path: Path, **changes: Any) -> None:
    data = read_record(path)
    if data is not None:
        data.update(changes)
        atomic_write_json(path, data)


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def claim_if_orphaned(path: Path) -> Path | None:
    """Rename an orphaned record to ``<name>.reaping-<our pid>`` and return the new path.

    Orphaned: a ``.json`` record whose owner is dead, or a claim whose reaper died midway.
    """
    if path.suffix == ".json" and not path.name.startswith("."):
        data = read_record(path)
        if data is not None and alive(data.get("owner_pid"), data.get("owner_started")):
            return None
    else:
        match = re.search(r"\.reaping-(\d+)$", path.name)
        if match is None or alive(int(match.group(1)), None):
            return None
    base = path.name.split(".reaping-")[0]
    claimed = path.with_name(f"{base}.reaping-{os.getpid()}")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:  # another reaper was faster
        return None
    return claimed


def _reap_record(data: dict[str, Any]) -> list[str]:
    lines = []
    owner = data.get("owner_pid")
    run_dir = Path(data.get("run_dir") or "/nonexistent")
    pid = data.get("postmaster_pid")
    if isinstance(pid, int) and is_postmaster_of(pid, run_dir / "data"):
        shutdown(pid, None)
        kill_children(pid)
        lines.append(f"stopped leftover PostgreSQL (pid {pid}) of dead pytest process {owner}")
    if run_dir.is_dir():
        remove_run_dir(run_dir)
        lines.append(f"removed leftover run folder {run_dir} of dead pytest process {owner}")
    return lines
