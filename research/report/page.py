"""One self-contained HTML page: plotly.js inlined once in the head, then each section's
headings, tables, notes and figures. Nothing is fetched when the page is opened."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; display: block; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.stressed { background: #b00020; color: white; padding: 0.5em 0.8em; font-weight: bold; }
.note { color: #555; font-style: italic; }
"""


def figure(fig: go.Figure) -> str:
    """A figure's div and the script drawing it (plotly.js comes from the page's head), in a
    ``chart`` div carrying its title (what a reader, or a test, finds it by)."""
    title = html.escape(fig.layout.title.text or "", quote=True)
    drawn = fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
    return f'<div class="chart" data-title="{title}">{drawn}</div>'


def table(header: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "") -> str:
    """An HTML table of already formatted cells (escaped here)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def heading(text: str, level: int = 2) -> str:
    return f"<h{level}>{html.escape(text)}</h{level}>"


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def stressed_banner(text: str) -> str:
    return f'<p class="stressed">{html.escape(text)}</p>'


def document(title: str, parts: list[str]) -> str:
    """The whole page, plotly.js inlined: it opens offline."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n<body>\n'
        + heading(title, 1)
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
