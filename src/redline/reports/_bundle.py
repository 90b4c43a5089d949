"""The report folder, written atomically: a failed run never leaves half a report."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

from redline._atomic import umask
from redline.errors import InputError
from redline.results import ScanResult

__all__ = ["REPORT_FILES", "check_output_dir", "swap_into_place", "write_report_dir"]

REPORT_FILES = ("scan.json", "report.html", "junit.xml", "results.sarif", "summary.md")


def write_report_dir(
    result: ScanResult, out: Path, extra: Mapping[str, bytes] | None = None
) -> None:
    """Write every report format into a temp folder beside ``out``, then rename it into place.

    An existing ``out`` is replaced only if it is empty or a previous redline report
    (it holds ``scan.json``): redline never deletes a folder it did not write.
    """
    from redline.reports import render_markdown, write_html, write_junit, write_sarif

    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        tmp.chmod(0o777 & ~umask())  # mkdtemp makes it private; a report is not
        result.to_json(tmp / "scan.json")
        write_html(result, tmp / "report.html")
        write_junit(result, tmp / "junit.xml")
        write_sarif(result, tmp / "results.sarif")
        (tmp / "summary.md").write_text(render_markdown(result), encoding="utf-8")
        for name, data in (extra or {}).items():
            (tmp / name).write_bytes(data)
        swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_output_dir(out: Path) -> None:
    """Fail early if ``out`` cannot be (re)placed by a report folder."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; choose another --out")
    if any(out.iterdir()) and not (out / "scan.json").is_file():
        raise InputError(
            f"{out}: folder is not empty and is not a redline report; choose another --out"
        )


def swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder ``tmp`` to ``out``, replacing an old one at the last moment."""
    if not out.exists():
        tmp.rename(out)
        return
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
