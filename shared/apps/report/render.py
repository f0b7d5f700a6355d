"""Rendering: one self-contained HTML file (inline CSS, inline SVG charts from matplotlib), the PDF
made from it (WeasyPrint: A4, page numbers, table headers repeated on every page), a PNG of one PDF
page, JSON, CSV and a CSV for a Swedish Excel (semicolon, decimal comma, UTF-8 with BOM).

Everything a reader sees is Swedish: names, not codes (figures.py and names.py name them), tkr
with a space between thousands, "< 5" for small counts."""

from __future__ import annotations

import html
import io
import json
from datetime import datetime
from typing import Any

from shared.apps.report.figures import COLUMNS, MONTHS, STOCKHOLM
from shared.apps.report.names import period_name
from shared.apps.report.privacy import MASKED, chart_value
from shared.kernel.csv_safe import writer as csv_writer

FORMATS = ("html", "pdf", "json", "csv", "excel", "png")
EXTENSIONS = {"html": "html", "pdf": "pdf", "json": "json", "csv": "csv", "excel": "excel.csv", "png": "png"}


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)


def _row_cells(sec: dict[str, Any], row: dict[str, Any]) -> list[tuple[str, Any]]:
    """(column key, value) of a row: the section's own columns (economy) or the three periods."""
    cols = [c for c, _ in sec["columns"]] if "columns" in sec else list(COLUMNS)
    return [(c, row.get(c)) for c in cols]


def to_csv(report: dict[str, Any]) -> str:
    """Machine CSV: one line per row and period; a row of the economy per account row and column."""
    out = io.StringIO()
    w = csv_writer(out, lineterminator="\n")  # formula cells neutralised
    names = [report["periods"][c]["name"] for c in COLUMNS]
    w.writerow(["section", "key", "measure", "label", *COLUMNS, "share"])
    w.writerow(["periods", "", "", "", *names])
    for name, sec in report["sections"].items():
        for row in sec["rows"]:
            if "columns" in sec:
                for col, value in _row_cells(sec, row):
                    measure = f"{row['measure']}:{col}" if "measure" in row else col
                    w.writerow([name, row["key"], measure, row.get("label", ""), "" if value is None else value, "", "", ""])
                continue
            w.writerow([name, row["key"], row.get("measure", ""), row["label"],
                        *("" if row[c] is None else row[c] for c in COLUMNS), row.get("share", "")])
    for row in report["trend"]["rows"]:
        w.writerow(["trend", row["year"], "cases", "Ärenden per år", row["cases"], "", ""])
    return out.getvalue()


def _excel_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.1f}".replace(".", ",")
    return str(v).replace(".", ",") if isinstance(v, str) and v != MASKED else str(v)


def to_excel_csv(report: dict[str, Any]) -> str:
    """The report's tables as a Swedish Excel opens them: UTF-8 with BOM, semicolons, decimal comma,
    one block per table (title, header, rows, a blank line), Swedish headings only."""
    out = io.StringIO()
    w = csv_writer(out, delimiter=";", lineterminator="\r\n")  # formula cells neutralised
    cols = _cols(report)
    w.writerow([_title(report)])
    w.writerow([])
    trend = report["trend"]
    w.writerow([trend["title"]])
    w.writerow(["År", *(r["year"] for r in trend["rows"])])
    w.writerow(["Antal", *(r["cases"] for r in trend["rows"])])
    w.writerow([])
    for sec in report["sections"].values():
        w.writerow([sec["title"]])
        if "columns" in sec:
            economy = "cost_centre" in (sec["rows"][0] if sec["rows"] else {})
            w.writerow(["Kostnadsställe", "Rad"] * economy + ["Kostnadsställe"] * (not economy)
                       + [label for _, label in sec["columns"]])
            for r in sec["rows"]:
                first = [r["cost_centre"], r["label"]] if economy else [r["label"]]
                w.writerow(first + [_excel_value(v) for _, v in _row_cells(sec, r)])
        else:
            share = any("share" in r for r in sec["rows"])
            w.writerow(["", *(period_name(report["periods"][c]["name"]) for c in cols)] + ["Andel, %"] * share)
            for r in sec["rows"]:
                w.writerow([r["label"], *(_excel_value(r[c]) for c in cols)] + [_excel_value(r.get("share"))] * share)
        if sec.get("note"):
            w.writerow([sec["note"]])
        w.writerow([])
    w.writerow([report["privacy"]])
    return "\ufeff" + out.getvalue()


# -- charts ------------------------------------------------------------------------------------------
def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inline in HTML


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "pn-report", "font.size": 8,
                         "font.family": "sans-serif", "axes.spines.top": False, "axes.spines.right": False})
    return plt


COLOURS = {"current": "#1f5f8b", "previous": "#8fb8d6", "year_before": "#c9c9c9"}


def trend_chart(report: dict[str, Any]) -> str:
    plt = _plt()
    rows = report["trend"]["rows"]
    fig, ax = plt.subplots(figsize=(6.5, 2.2))
    ax.plot([str(r["year"]) for r in rows], [chart_value(r["cases"]) for r in rows], marker="o", color=COLOURS["current"])
    ax.set_ylabel("ärenden")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


def bar_chart(report: dict[str, Any], section: str, horizontal: bool = True, columns: tuple[str, ...] = COLUMNS,
              skip: tuple[str, ...] = ("total",)) -> str:
    plt = _plt()
    rows = [r for r in report["sections"][section]["rows"]
            if r["key"] not in skip and not (r["key"] == "rest" and not any(chart_value(r[c]) for c in COLUMNS))]
    cols = [c for c in _cols(report) if c in columns]
    n, width = len(rows), 0.8 / max(1, len(cols))
    fig, ax = plt.subplots(figsize=(6.5, max(1.6, 0.28 * n * len(cols) + 0.6)) if horizontal else (6.5, 2.6))
    for i, c in enumerate(cols):
        pos = [j + (i - (len(cols) - 1) / 2) * width for j in range(n)]
        vals = [chart_value(r[c]) for r in rows]
        label = period_name(report["periods"][c]["name"])
        (ax.barh if horizontal else ax.bar)(pos, vals, width, label=label, color=COLOURS[c])
    labels = [r["label"] for r in rows]
    if horizontal:
        ax.set_yticks(range(n), labels)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xticks(range(n), labels, rotation=20, ha="right")
        ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    return _svg(fig)


def budget_chart(report: dict[str, Any]) -> str:
    """Net cost per cost centre: accumulated budget, outcome and the run-rate forecast, tkr."""
    plt = _plt()
    net = {r["key"]: r for r in report["sections"]["budget"]["rows"] if r["measure"] == "netto" and r["key"] != "total"}
    forecast = {r["key"]: r for r in report["sections"]["forecast"]["rows"]}
    centres = list(net)
    fig, ax = plt.subplots(figsize=(6.5, 2.4))
    n = len(centres)
    series = (("Ack. budget", "#c9c9c9", [net[c]["budget"] for c in centres]),
              ("Ack. utfall", "#1f5f8b", [net[c]["actual"] for c in centres]),
              ("Helårsprognos", "#e08a2c", [forecast.get(c, {}).get("forecast_run_rate") for c in centres]))
    for i, (label, colour, values) in enumerate(series):
        ax.bar([j + (i - 1) * 0.27 for j in range(n)], [v or 0 for v in values], 0.27, label=label, color=colour)
    ax.set_xticks(range(n), [net[c]["cost_centre"] for c in centres], fontsize=7)
    ax.set_ylabel("tkr, nettokostnad")
    ax.axhline(0, color="#555", linewidth=0.6)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    return _svg(fig)


# -- HTML --------------------------------------------------------------------------------------------
CSS = """
@page { size: A4; margin: 16mm 14mm 18mm; font-family: "DejaVu Sans", Arial, sans-serif;
  @top-left { content: string(doc-title); font-size: 7.5pt; color: #777; }
  @bottom-right { content: "Sida " counter(page) " av " counter(pages); font-size: 8pt; color: #555; } }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; font-size: 9.5pt; color: #1b1b1b; max-width: 190mm; margin: 0 auto; }
h1 { font-size: 17pt; margin: 0 0 2mm; color: #1f5f8b; string-set: doc-title content(); }
h2 { font-size: 13pt; margin: 8mm 0 2mm; border-bottom: 1.2px solid #1f5f8b; padding-bottom: 1mm; color: #1f5f8b; break-after: avoid; }
h3 { font-size: 10.5pt; margin: 5mm 0 1.5mm; break-after: avoid; }
.meta { color: #555; font-size: 8.5pt; } .note { color: #555; font-size: 8pt; margin: 1mm 0; }
.missing { color: #8a5a00; background: #fff7e0; border-left: 3px solid #e6c866; padding: 1.5mm 3mm; font-style: italic; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
thead { display: table-header-group; } tr { break-inside: avoid; }
th, td { padding: 1mm 1.8mm; border-bottom: 1px solid #ddd; text-align: right; } th:first-child, td:first-child { text-align: left; }
thead th { background: #eef4f9; font-weight: 600; vertical-align: bottom; } tr.total td { font-weight: bold; border-top: 1px solid #999; }
.masked { color: #8a5a00; } .chart { break-inside: avoid; } .chart svg { width: 100%; height: auto; max-height: 90mm; }
.privacy { background: #fff7e0; border: 1px solid #e6c866; padding: 2mm 3mm; font-size: 8.5pt; }
.text p { margin: 1.5mm 0; } section.economy { break-before: page; } table.economy { table-layout: fixed; } table.economy th:first-child { width: 34%; }
"""


def _num(v: int) -> str:
    text = f"{abs(v):,}".replace(",", "\u00a0")
    return f"-{text}" if v < 0 else text


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if v == MASKED:
        return '<span class="masked">&lt;\u00a05</span>'
    if isinstance(v, bool):
        return "Ja" if v else "Nej"
    if isinstance(v, float):
        return f"{v:.1f}".replace(".", ",")
    if isinstance(v, int):
        return _num(v)
    return html.escape(str(v))


def _cols(report: dict[str, Any]) -> list[str]:
    """The period columns a table shows: for a year the previous period and the year before are the
    same year, shown once."""
    same = report["periods"]["year_before"]["name"] == report["periods"]["previous"]["name"]
    return [c for c in COLUMNS if not (c == "year_before" and same)]


def _pname(report: dict[str, Any], col: str) -> str:
    return html.escape(period_name(report["periods"][col]["name"]))


def _table(report: dict[str, Any], sec: dict[str, Any], cols: list[str]) -> str:
    share = any("share" in r for r in sec["rows"])
    head = "".join(f"<th>{_pname(report, c)}</th>" for c in cols)
    if share:
        head += f"<th>Andel {_pname(report, 'current')}, %</th>"
    body = []
    for r in sec["rows"]:
        cls = ' class="total"' if r["key"] == "total" else ""
        body.append(f"<tr{cls}><td>{html.escape(str(r['label']))}</td>" + "".join(f"<td>{_cell(r[c])}</td>" for c in cols)
                    + (f"<td>{_cell(r.get('share'))}</td>" if share else "") + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(cols) + 1 + share}">Inga uppgifter.</td></tr>')
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


TOTAL = ' class="total"'


def _economy_tables(report: dict[str, Any], sec: dict[str, Any]) -> str:
    """The seed's table "Intäkter och kostnader i tkr": the total first, then each cost centre."""
    centres: dict[str, list[dict[str, Any]]] = {}
    for r in sec["rows"]:
        centres.setdefault(r["key"], []).append(r)
    if not centres:
        return '<p class="missing">Ingen budgetstatus finns för perioden.</p>'
    order = (["total"] if "total" in centres else []) + [c for c in centres if c != "total"]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in sec["columns"])
    out = []
    for cc in order:
        rows = centres[cc]
        body = "".join(
            f'<tr{TOTAL if r["measure"] in ("brutto", "netto") else ""}><td>{html.escape(r["label"])}</td>'
            + "".join(f"<td>{_cell(r[c])}</td>" for c, _ in sec["columns"]) + "</tr>" for r in rows)
        out.append(f"<h3>{html.escape(rows[0]['cost_centre'])}</h3>"
                   f'<table class="economy"><thead><tr><th>tkr</th>{head}</tr></thead><tbody>{body}</tbody></table>')
    return "".join(out)


def _columns_table(sec: dict[str, Any], first: str) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in sec["columns"])
    body = "".join(
        f'<tr{TOTAL if r["key"] == "total" else ""}><td>{html.escape(r["label"])}</td>'
        + "".join(f"<td>{_cell(r[c])}</td>" for c, _ in sec["columns"]) + "</tr>" for r in sec["rows"])
    if not body:
        body = f'<tr><td colspan="{len(sec["columns"]) + 1}">Inga uppgifter.</td></tr>'
    return f"<table><thead><tr><th>{html.escape(first)}</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _trend_table(report: dict[str, Any]) -> str:
    rows = report["trend"]["rows"]
    head = "".join(f"<th>{r['year']}</th>" for r in rows)
    return (f"<table><thead><tr><th>År</th>{head}</tr></thead><tbody><tr><td>Synpunkter och klagomål</td>"
            + "".join(f"<td>{_cell(r['cases'])}</td>" for r in rows) + "</tr></tbody></table>")


CHARTS = {
    "cases_by_main_area": lambda r: bar_chart(r, "cases_by_main_area"),
    "cases_by_provider": lambda r: bar_chart(r, "cases_by_provider", skip=("total",)),
    "budget": budget_chart,
}


def _drawable(report: dict[str, Any], name: str) -> bool:
    """A chart only where it has something to show (an all-zero chart is noise, not a figure)."""
    if name == "trend":
        return any(chart_value(r["cases"]) for r in report["trend"]["rows"])
    rows = report["sections"][name]["rows"]
    if name == "budget":
        return any(r["key"] != "total" and r["measure"] == "netto" and r["actual"] for r in rows)
    return any(chart_value(r[c]) for r in rows if r["key"] != "total" for c in COLUMNS)


# The document: chapters in the order of the seed's annual report; a chapter is a list of parts,
# each a text of the nämnd ("text:<key>"), the trend, or a section of figures.
CHAPTERS = (
    ("Händelser av väsentlig betydelse", ("text:handelser",)),
    ("Mål", ("text:mal",)),
    ("Synpunkter och klagomål", ("trend", "cases_by_channel", "cases_by_main_area", "cases_by_sub_area",
                                 "cases_by_provider", "cases_by_unit", "reply_days", "spike_alerts")),
    ("Analys av teman och riskområden", ("text:analys",)),
    ("Diariet", ("letters",)),
    ("Stödpersonsverksamhet", ("support",)),
    ("Information och rådgivning", ("advice",)),
    ("Utomlänsvård", ("out_of_region_days", "out_of_region_amount")),
    ("Ekonomisk analys", ("budget", "forecast", "budget_alerts")),
)


def _title(report: dict[str, Any]) -> str:
    kind = "Årsrapport" if "Q" not in report["period"] else "Kvartalsrapport"
    region = f", {report['region_name']}" if report.get("region_name") else ""
    return f"Patientnämnden{region} — {kind} {period_name(report['period'])}"


def _generated(at: str) -> str:
    when = datetime.fromisoformat(at).astimezone(STOCKHOLM)
    return f"{when.day} {MONTHS[when.month - 1]} {when.year} kl. {when:%H.%M}"


def _text(report: dict[str, Any], key: str) -> str:
    from shared.apps.report.texts import to_html as markdown

    part = report.get("texts", {}).get(key) or {}
    if part.get("text"):
        return f'<div class="text">{markdown(part["text"])}</div>'
    title = html.escape(part.get("title", key))
    return f'<p class="missing">Nämndens text till detta avsnitt saknas (rubriken ”{title}” i rapportens textfil).</p>'


def _part(report: dict[str, Any], name: str, cols: list[str], chapter: str = "") -> str:
    if name.startswith("text:"):
        return _text(report, name[5:])
    if name == "trend":
        chart = f'<div class="chart">{trend_chart(report)}</div>' if _drawable(report, "trend") else '<p class="note">Inga ärenden.</p>'
        return f"<h3>{html.escape(report['trend']['title'])}</h3>{chart}{_trend_table(report)}"
    sec = report["sections"][name]
    chart = f'<div class="chart">{CHARTS[name](report)}</div>' if name in CHARTS and _drawable(report, name) else ""
    note = f'<p class="note">{html.escape(sec["note"])}</p>' if sec.get("note") else ""
    if name == "budget":
        return f"<h3>{html.escape(sec['title'])}</h3>{note}{_economy_tables(report, sec)}{chart}"
    table = _columns_table(sec, "Kostnadsställe") if "columns" in sec else _table(report, sec, cols)
    head = "" if sec["title"] == chapter else f"<h3>{html.escape(sec['title'])}</h3>"  # not the chapter's title twice
    return f"{head}{chart}{table}{note}"


def to_html(report: dict[str, Any]) -> str:
    cols = _cols(report)
    cur = report["periods"]["current"]
    parts = [f"<h1>{html.escape(_title(report))}</h1>",
             f'<p class="meta">Perioden {cur["first"]} – {cur["last"]} (svensk tid). '
             f'Jämförelse: {", ".join(_pname(report, c) for c in cols[1:])}. '
             f'Sammanställd {_generated(report["generated_at"])} ur händelseloggen.</p>',
             f'<p class="privacy">{html.escape(report["privacy"])}</p>']
    for title, names in CHAPTERS:
        cls = ' class="economy"' if "budget" in names else ""
        parts.append(f"<section{cls}><h2>{html.escape(title)}</h2>{''.join(_part(report, n, cols, title) for n in names)}</section>")
    return (f'<!DOCTYPE html>\n<html lang="sv"><head><meta charset="utf-8"><title>{html.escape(_title(report))}</title>'
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def to_pdf(report: dict[str, Any]) -> bytes:
    """The HTML as an A4 PDF (WeasyPrint; needs the Pango libraries `make install` provides)."""
    from weasyprint import HTML

    return HTML(string=to_html(report)).write_pdf()


def to_png(report: dict[str, Any], page: int = 1, scale: float = 1.6) -> bytes:
    """One page (1-based) of the PDF as a PNG: what a board member sees on that page."""
    return pdf_page_png(to_pdf(report), page, scale)


def pdf_page_png(pdf: bytes, page: int = 1, scale: float = 1.6) -> bytes:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        if not 1 <= page <= len(doc):
            raise ValueError(f"page must be 1..{len(doc)}, not {page}")
        image = doc[page - 1].render(scale=scale).to_pil()
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=True)
        return buf.getvalue()
    finally:
        doc.close()


def render(report: dict[str, Any], fmt: str, *, page: int = 1) -> str | bytes:
    """The report in `fmt`; text formats as str, pdf and png as bytes."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "excel":
        return to_excel_csv(report)
    if fmt == "html":
        return to_html(report)
    if fmt == "pdf":
        return to_pdf(report)
    if fmt == "png":
        return to_png(report, page)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
