"""Reports: one result model, several renderings (text, JSON, SARIF 2.1.0, GitHub)."""

from ftpolicy.report.formats import (
    FormatChoice,
    markdown_summary,
    render,
    render_github,
    render_json,
    render_sarif,
    render_text,
    to_json_dict,
)
from ftpolicy.report.model import SEVERITY_LEVEL, Finding, Level, Report, RuleInfo, Status

__all__ = [
    "SEVERITY_LEVEL",
    "Finding",
    "FormatChoice",
    "Level",
    "Report",
    "RuleInfo",
    "Status",
    "markdown_summary",
    "render",
    "render_github",
    "render_json",
    "render_sarif",
    "render_text",
    "to_json_dict",
]
