"""Reports built from a ``ScanResult`` alone: HTML, JUnit XML, SARIF 2.1.0 and Markdown."""

from redline.reports._bundle import REPORT_FILES, check_output_dir, write_report_dir
from redline.reports._html import render_html, write_html
from redline.reports._junit import render_junit, write_junit
from redline.reports._markdown import render_markdown, write_markdown
from redline.reports._sarif import render_sarif, write_sarif

__all__ = [
    "REPORT_FILES",
    "check_output_dir",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_sarif",
    "write_html",
    "write_junit",
    "write_markdown",
    "write_report_dir",
    "write_sarif",
]
