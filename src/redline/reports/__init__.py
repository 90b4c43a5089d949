"""Reports: from a ``ScanResult`` (HTML, JUnit XML, SARIF 2.1.0, Markdown) and, from the
registry store, the model card of a version (Markdown and HTML)."""

from redline.reports._bundle import REPORT_FILES, check_output_dir, write_report_dir
from redline.reports._card import ModelCard, build_card
from redline.reports._card_html import card_html
from redline.reports._card_intended import IntendedUse, load_intended_use
from redline.reports._card_markdown import card_markdown
from redline.reports._html import render_html, write_html
from redline.reports._junit import render_junit, write_junit
from redline.reports._markdown import render_markdown, write_markdown
from redline.reports._sarif import render_sarif, write_sarif

__all__ = [
    "REPORT_FILES",
    "IntendedUse",
    "ModelCard",
    "build_card",
    "card_html",
    "card_markdown",
    "check_output_dir",
    "load_intended_use",
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
