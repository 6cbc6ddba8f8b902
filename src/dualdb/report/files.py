"""Write the human-readable reports next to ``dualdb.json``, or re-render a saved one.

``write_reports`` is what the plugin calls at the end of a run (it writes the JSON
itself); ``rerender`` backs the ``dualdb report FILE.json`` command and turns every
problem with the file into one :class:`ReportFileError` line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dualdb.report.html import render_html
from dualdb.report.markdown import render_markdown
from dualdb.report.model import SCHEMA, Report

__all__ = ["ReportFileError", "load_report", "rerender", "write_reports"]

MARKDOWN_NAME = "dualdb.md"
HTML_NAME = "dualdb.html"


class ReportFileError(ValueError):
    """A report file that cannot be read: the message says which file and what to do."""


def write_reports(report: dict[str, Any], report_dir: Path) -> dict[str, Path]:
    """Write ``dualdb.md`` and ``dualdb.html`` into ``report_dir`` (created if needed).

    Returns ``{"markdown": path, "html": path}``.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": report_dir / MARKDOWN_NAME, "html": report_dir / HTML_NAME}
    _write(paths["markdown"], render_markdown(report))
    _write(paths["html"], render_html(report))
    return paths


def _write(path: Path, text: str) -> None:
    # Write then rename, so a viewer never sees half a report.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    tmp.replace(path)


def load_report(json_path: Path) -> dict[str, Any]:
    """Read and check a ``dualdb.json``; raise :class:`ReportFileError` with a clear message."""
    path = Path(json_path)
    if not path.exists():
        raise ReportFileError(f"{path}: no such file (pass the dualdb.json a run wrote, e.g. reports/dualdb.json)")
    if path.is_dir():
        candidate = path / "dualdb.json"
        if candidate.is_file():
            path = candidate
        else:
            raise ReportFileError(f"{path}: is a folder without a dualdb.json in it")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReportFileError(
            f"{path}: not a text file; expected the dualdb.json written by pytest --dual-db"
        ) from None
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFileError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "expected the dualdb.json written by pytest --dual-db"
        ) from None
    if not isinstance(data, dict) or "schema" not in data:
        raise ReportFileError(f'{path}: not a pytest-dualdb report (no "schema": "{SCHEMA}" field)')
    if data.get("schema") != SCHEMA:
        raise ReportFileError(
            f"{path}: report schema {data.get('schema')!r} is not supported; this version of pytest-dualdb "
            f"reads {SCHEMA!r} (re-run the tests to produce a new report)"
        )
    if not isinstance(data.get("tests", []), list):
        raise ReportFileError(f'{path}: malformed report: "tests" must be a list')
    try:
        Report.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ReportFileError(f"{path}: malformed {SCHEMA} report ({detail})") from None
    return data


def rerender(json_path: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Re-render a saved report into ``out_dir`` (default: the JSON file's folder).

    Returns the written paths, like :func:`write_reports`.
    """
    data = load_report(json_path)
    path = Path(json_path)
    if path.is_dir():
        path = path / "dualdb.json"
    return write_reports(data, Path(out_dir) if out_dir is not None else path.parent)
