"""``validation.html``: the validate stage's summary as one self-contained HTML page
(styles inline, no script, nothing fetched), readable offline where GX's Data Docs,
which load Bootstrap and jQuery from CDNs, show unstyled."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f2f2f2; }
.ok { color: #1a7f37; font-weight: 600; } .bad { color: #c62828; font-weight: 600; }
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape("" if value is None else str(value))


def _table(header: list[str], rows: list[list[Any]], markup_column: int | None = None) -> str:
    """A table of ``rows`` (escaped text), except column ``markup_column``, which holds markup made here."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{v if i == markup_column else _cell(v)}</td>" for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _status(success: bool) -> str:
    return '<span class="ok">passed</span>' if success else '<span class="bad">failed</span>'


def summary_page(summary: dict) -> str:
    """The HTML page of a ``validation.json`` summary."""
    facts = [
        ["run", summary.get("run_name")], ["validated at", summary.get("validated_at")],
        ["assets", ", ".join(summary.get("assets") or [])], ["rows in", summary.get("n_rows_in")],
        ["rows quarantined", summary.get("n_quarantined")], ["rows out", summary.get("n_rows_out")],
        ["quarantine file", summary.get("quarantine_path")], ["Great Expectations", summary.get("great_expectations_version")],
    ]
    problems = summary.get("problems") or []
    expectations = [
        [_status(e["success"]), e.get("type"), e.get("column"), e.get("asset"), e.get("observed_value"), e.get("unexpected_count")]
        for e in summary.get("expectations", [])
    ]
    rows_html = _table(["result", "expectation", "column", "asset", "observed", "rows failing"], expectations, markup_column=0)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>anomflow validation</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Validation of the readings: {_status(bool(summary.get('success')))}</h1>",
        _table(["", ""], facts),
        "<h2>Problems that stop the run</h2>",
        "<ul>" + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul>" if problems else "<p>none</p>",
        "<h2>Quarantined rows by rule</h2>",
        _table(["rule", "rows"], [[k, v] for k, v in (summary.get("quarantine_by_rule") or {}).items()]),
        "<h2>Expectations</h2>", rows_html,
        "</body></html>",
    ]
    return "\n".join(parts)


def write_summary_page(summary: dict, path: Path) -> Path:
    path.write_text(summary_page(summary), encoding="utf-8")
    return path
