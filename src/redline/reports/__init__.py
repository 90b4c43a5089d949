"""Reports: from a ``ScanResult`` (HTML, JUnit XML, SARIF 2.1.0, Markdown), two scans
compared side by side (Markdown and HTML) and, from the registry store, the model card
of a version (Markdown and HTML)."""

from redline.reports._bundle import REPORT_FILES, check_output_dir, write_report_dir
from redline.reports._card import ModelCard, build_card
from redline.reports._card_html import card_html
from redline.reports._card_intended import IntendedUse, load_intended_use
from redline.reports._card_markdown import card_markdown
from redline.reports._compare import Comparison, compare_results
from redline.reports._compare_html import compare_html
from redline.reports._compare_markdown import compare_markdown
from redline.reports._compare_parts import VersionMeta
from redline.reports._html import render_html, write_html
from redline.reports._junit import render_junit, write_junit
from redline.reports._markdown import render_markdown, write_markdown
from redline.reports._sarif import render_sarif, write_sarif

__all__ = [
    "REPORT_FILES",
    "Comparison",
    "IntendedUse",
    "ModelCard",
    "VersionMeta",
    "build_card",
    "card_html",
    "card_markdown",
    "check_output_dir",
    "compare_html",
    "compare_markdown",
    "compare_results",
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
