"""Write the human-readable reports next to ``dualdb.json``, or re-render a saved one.

``write_reports`` is what the plugin calls at the end of a run (it writes the JSON
itself); ``rerender`` backs the ``dualdb report FILE.json`` command: it reads the
file into the same :class:`~dualdb.report.model.Report` a live run renders from
(:func:`~dualdb.report.model.read_report`, which turns every problem with the file
into one :class:`ReportFileError` line).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dualdb.report.html import html_chunks
from dualdb.report.markdown import render_markdown
from dualdb.errors import ReportFileError
from dualdb.report.model import Report, read_report, report_path

__all__ = ["ReportFileError", "rerender", "write_reports"]

MARKDOWN_NAME = "dualdb.md"
HTML_NAME = "dualdb.html"

def write_reports(report: Report, report_dir: Path) -> dict[str, Path]:
    """Write ``dualdb.md`` and ``dualdb.html`` into ``report_dir`` (created if needed).

    Returns ``{"markdown": path, "html": path}``.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": report_dir / MARKDOWN_NAME, "html": report_dir / HTML_NAME}
    _write(paths["markdown"], render_markdown(report))
    _write(paths["html"], html_chunks(report))
    return paths


def _write(path: Path, text: str | Iterable[str]) -> None:
    # Write then rename, so a viewer never sees half a report.
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        if isinstance(text, str):
            out.write(text)
        else:
            out.writelines(text)
    tmp.replace(path)


def rerender(json_path: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Re-render a saved report into ``out_dir`` (default: the JSON file's folder).

    Returns the written paths, like :func:`write_reports`.
    """
    report = read_report(json_path)
    return write_reports(report, Path(out_dir) if out_dir is not None else report_path(json_path).parent)
