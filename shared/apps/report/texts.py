"""The nämnd's own words: a Markdown file with the sections the annual report has, merged into
their places in the report (`pn report --text FILE`).

The report never writes prose itself: a section the file does not have is shown as missing, with
the heading the file should use. A heading the report does not know is an error (text is never
dropped silently). The Markdown understood is small on purpose: `#`/`##`/`###` headings,
paragraphs, `-`/`*` lists and `**bold**`/`*italic*`; everything is HTML-escaped.
"""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

# (key, heading as the report prints it, headings accepted in the file)
SECTIONS = (
    ("handelser", "Väsentliga händelser", ("väsentliga händelser", "händelser av väsentlig betydelse")),
    ("mal", "Mål", ("mål", "mål och måluppfyllelse")),
    ("analys", "Analys av teman och riskområden", ("analys av teman och riskområden", "analys", "teman och riskområden")),
)
TITLES = {key: title for key, title, _ in SECTIONS}
_ALIASES = {alias: key for key, _, aliases in SECTIONS for alias in aliases}
_HEADING = re.compile(r"^#{1,3}\s+(.*?)\s*#*\s*$")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).strip().rstrip(":").lower().split())


def parse_text(markdown: str) -> dict[str, str]:
    """Section key → its Markdown. ValueError for text before the first heading or an unknown heading."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for n, line in enumerate(markdown.splitlines(), start=1):
        m = _HEADING.match(line)
        if m:
            key = _ALIASES.get(_norm(m.group(1)))
            if key is None:
                known = ", ".join(f'"{t}"' for t in TITLES.values())
                raise ValueError(f"line {n}: unknown heading {m.group(1)!r}; the report's sections are {known}")
            current = key
            out.setdefault(key, [])
        elif line.strip():
            if current is None:
                raise ValueError(f"line {n}: text before the first heading (start with e.g. '## Mål')")
            out[current].append(line)
        elif current is not None:
            out[current].append("")
    return {k: "\n".join(v).strip() for k, v in out.items() if "\n".join(v).strip()}


def read_text(path: Path | str) -> dict[str, str]:
    return parse_text(Path(path).read_text(encoding="utf-8"))


def texts_for(sections: dict[str, str] | None) -> dict[str, dict[str, str | None]]:
    """Every section of the report with its Markdown, or None where the nämnd has written none."""
    given = sections or {}
    return {key: {"title": title, "text": given.get(key)} for key, title, _ in SECTIONS}


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])", r"<em>\1</em>", text)


def to_html(markdown: str) -> str:
    """Paragraphs and lists of the small Markdown above, escaped."""
    blocks, para, items = [], [], []

    def flush() -> None:
        if para:
            blocks.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        s = line.strip()
        if not s:
            flush()
        elif s[:2] in ("- ", "* "):
            if para:
                flush()
            items.append(s[2:].strip())
        elif items and line[:1].isspace():
            items[-1] += " " + s
        else:
            if items:
                flush()
            para.append(s)
    flush()
    return "".join(blocks)
