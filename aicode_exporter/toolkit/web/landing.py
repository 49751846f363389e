"""The landing page shell: title, version, links, a table the caller fills and notes
under it. Everything put in is HTML-escaped here."""

from __future__ import annotations

import html
from collections.abc import Sequence

# (label, ((href, text), ...)): "Metrics: <a href="metrics">/metrics</a>."
LinkGroup = tuple[str, Sequence[tuple[str, str]]]


def landing_page(title: str, version: str, links: Sequence[LinkGroup],
                 columns: Sequence[str], rows: Sequence[Sequence[object]], *,
                 empty: str = "nothing yet", notes: Sequence[str] = ()) -> bytes:
    """The page as UTF-8; `empty` fills the table when there are no rows."""
    esc = html.escape
    groups = "\n".join(
        f"{esc(label)}: " + ", ".join(f'<a href="{esc(href)}">{esc(text)}</a>'
                                      for href, text in group) + "."
        for label, group in links)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>"
                     for row in rows) \
        or f'<tr><td colspan="{len(columns)}">{esc(empty)}</td></tr>'
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
tr:nth-child(even){{background:#f4f4f4}}</style></head>
<body><h1>{esc(title)}</h1>
<p>Version {esc(version)}. {groups}</p>
<table><tr>{head}</tr>
{body}
</table>
{"".join(f"<p>{esc(n)}</p>" for n in notes)}
</body></html>
""".encode()
