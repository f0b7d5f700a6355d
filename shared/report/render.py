"""Rendering: JSON, CSV and one self-contained HTML file (inline CSS, inline SVG charts from matplotlib)."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

from shared.csv_safe import writer as csv_writer

from .figures import COLUMNS
from .privacy import chart_value

FORMATS = ("html", "json", "csv")


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv_writer(out, lineterminator="\n")  # formula cells neutralised
    names = [report["periods"][c]["name"] for c in COLUMNS]
    w.writerow(["section", "key", "measure", "label", *COLUMNS, "share"])
    w.writerow(["periods", "", "", "", *names])
    for name, sec in report["sections"].items():
        for row in sec["rows"]:
            w.writerow([name, row["key"], row.get("measure", ""), row["label"],
                        *("" if row[c] is None else row[c] for c in COLUMNS), row.get("share", "")])
    for row in report["trend"]["rows"]:
        w.writerow(["trend", row["year"], "cases", "Ärenden per år", row["cases"], "", ""])
    return out.getvalue()


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
    cols = [c for c in columns if not (c == "year_before" and report["periods"][c]["name"] == report["periods"]["previous"]["name"])]
    n, width = len(rows), 0.8 / max(1, len(cols))
    fig, ax = plt.subplots(figsize=(6.5, max(1.6, 0.28 * n * len(cols) + 0.6)) if horizontal else (6.5, 2.6))
    for i, c in enumerate(cols):
        pos = [j + (i - (len(cols) - 1) / 2) * width for j in range(n)]
        vals = [chart_value(r[c]) for r in rows]
        label = report["periods"][c]["name"]
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
    plt = _plt()
    rows = report["sections"]["budget"]["rows"]
    centres = [k for k in dict.fromkeys(r["key"] for r in rows) if k != "total"]
    get = {(r["key"], r["measure"]): r["current"] for r in rows}
    fig, ax = plt.subplots(figsize=(6.5, 2.4))
    n = len(centres)
    for i, (m, label, colour) in enumerate((("budget_ytd", "Budget", "#c9c9c9"), ("actual_ytd", "Utfall", "#1f5f8b"),
                                            ("forecast_run_rate", "Prognos", "#e08a2c"))):
        ax.bar([j + (i - 1) * 0.27 for j in range(n)], [float(get.get((cc, m)) or 0) / 1000 for cc in centres], 0.27,
               label=label, color=colour)
    ax.set_xticks(range(n), centres)
    ax.set_ylabel("tkr")
    ax.axhline(0, color="#555", linewidth=0.6)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    return _svg(fig)


# -- HTML --------------------------------------------------------------------------------------------
CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "Helvetica Neue", Arial, sans-serif; font-size: 10pt; color: #1b1b1b; max-width: 190mm; margin: 0 auto; padding: 8mm 0; }
h1 { font-size: 17pt; margin: 0 0 2mm; color: #1f5f8b; } h2 { font-size: 12pt; margin: 7mm 0 2mm; border-bottom: 1px solid #1f5f8b; padding-bottom: 1mm; }
.meta { color: #555; font-size: 8.5pt; } .note { color: #555; font-size: 8pt; margin: 1mm 0; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; page-break-inside: auto; }
th, td { padding: 1.2mm 2mm; border-bottom: 1px solid #ddd; text-align: right; } th:first-child, td:first-child { text-align: left; }
thead th { background: #eef4f9; } tr { page-break-inside: avoid; } tr.total td { font-weight: bold; }
table.budget { font-size: 8pt; } table.budget th { font-weight: 600; }
.masked { color: #8a5a00; } .chart svg { width: 100%; height: auto; max-height: 95mm; }
section { page-break-inside: avoid; } .privacy { background: #fff7e0; border: 1px solid #e6c866; padding: 2mm 3mm; font-size: 8.5pt; }
@media print { .chart { page-break-inside: avoid; } h2 { page-break-after: avoid; } }
"""


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if v == "< 5":
        return '<span class="masked">&lt; 5</span>'
    if isinstance(v, float):
        return f"{v:.1f}".replace(".", ",")
    if isinstance(v, str) and re.fullmatch(r"-?\d+\.\d\d", v):
        whole, dec = v.split(".")
        return f"{int(whole):,}".replace(",", "\u00a0") + "," + dec
    if isinstance(v, int):
        return f"{v:,}".replace(",", "\u00a0")
    return html.escape(str(v))


def _table(report: dict[str, Any], sec: dict[str, Any], cols: list[str]) -> str:
    share = any("share" in r for r in sec["rows"])
    head = "".join(f"<th>{html.escape(report['periods'][c]['name'])}</th>" for c in cols)
    if share:
        head += f"<th>Andel {html.escape(report['periods']['current']['name'])}, %</th>"
    body = []
    for r in sec["rows"]:
        cls = ' class="total"' if r["key"] == "total" else ""
        body.append(f"<tr{cls}><td>{html.escape(str(r['label']))}</td>" + "".join(f"<td>{_cell(r[c])}</td>" for c in cols)
                    + (f"<td>{_cell(r.get('share'))}</td>" if share else "") + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(cols) + 1}">Inga uppgifter.</td></tr>')
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


BUDGET_MEASURES = (("annual_budget", "Årsbudget"), ("budget_ytd", "Budget hittills"), ("actual_ytd", "Utfall hittills"),
                   ("deviation", "Avvikelse"), ("forecast_run_rate", "Prognos (takt)"),
                   ("forecast_budget_rest", "Prognos (budget resten)"))


def _budget_table(report: dict[str, Any], sec: dict[str, Any], cols: list[str]) -> str:
    """Cost centres as rows, the current period's measures as columns, and the deviation of the
    comparison periods beside them (the JSON/CSV keep one row per cost centre and measure)."""
    cells = {(r["key"], r["measure"]): r for r in sec["rows"]}
    centres = list(dict.fromkeys(r["key"] for r in sec["rows"]))
    names = {c: html.escape(report["periods"][c]["name"]) for c in cols}
    head = "".join(f"<th>{label}</th>" for _, label in BUDGET_MEASURES)
    head += "".join(f"<th>Avvikelse {names[c]}</th>" for c in cols[1:])
    body = []
    for cc in centres:
        cls = ' class="total"' if cc == "total" else ""
        tds = "".join(f"<td>{_cell(cells[(cc, m)]['current'])}</td>" for m, _ in BUDGET_MEASURES)
        tds += "".join(f"<td>{_cell(cells[(cc, 'deviation')][c])}</td>" for c in cols[1:])
        body.append(f"<tr{cls}><td>{'Totalt' if cc == 'total' else html.escape(cc)}</td>{tds}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(BUDGET_MEASURES) + len(cols)}">Inga uppgifter.</td></tr>')
    return (f'<table class="budget"><thead><tr><th>Kostnadsställe ({names["current"]})</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


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
        return any(r["key"] != "total" and r["current"] not in (None, "0.00") for r in rows)
    return any(chart_value(r[c]) for r in rows if r["key"] != "total" for c in COLUMNS)


def to_html(report: dict[str, Any]) -> str:
    cols = [c for c in COLUMNS if not (c == "year_before" and report["periods"][c]["name"] == report["periods"]["previous"]["name"])]
    kind = "Årsrapport" if "Q" not in report["period"] else "Kvartalsrapport"
    parts = [f"<h1>Patientnämnden — {kind} {html.escape(report['period'])}</h1>",
             f'<p class="meta">Period {report["periods"]["current"]["first"]} – {report["periods"]["current"]["last"]} (svensk tid). '
             f'Jämförelse: {", ".join(html.escape(report["periods"][c]["name"]) for c in cols[1:])}. '
             f'Byggd {html.escape(report["generated_at"])} ur händelseloggen.</p>',
             f'<p class="privacy">{html.escape(report["privacy"])}</p>',
             f'<section><h2>{html.escape(report["trend"]["title"])}</h2>'
             + (f'<div class="chart">{trend_chart(report)}</div>' if _drawable(report, "trend") else '<p class="note">Inga ärenden.</p>')
             + "</section>"]
    for name, sec in report["sections"].items():
        chart = f'<div class="chart">{CHARTS[name](report)}</div>' if name in CHARTS and _drawable(report, name) else ""
        note = f'<p class="note">{html.escape(sec["note"])}</p>' if sec.get("note") else ""
        table = _budget_table(report, sec, cols) if name == "budget" else _table(report, sec, cols)
        parts.append(f"<section><h2>{html.escape(sec['title'])}</h2>{chart}{table}{note}</section>")
    return (f'<!DOCTYPE html>\n<html lang="sv"><head><meta charset="utf-8"><title>Patientnämnden {html.escape(report["period"])}</title>'
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
