"""The document a board member reads: the seed's words and figures, no code or English word, the
"< 5" rule in every table, the nämnd's own texts in their places, and the PDF's pages."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import pytest

from shared.apps.report.figures import report_from_events
from shared.apps.report.names import load_cost_centres
from shared.apps.report.render import render, to_html
from shared.apps.report.texts import parse_text

from .sample import generate

# Words of the code and the JSON a reader must never meet (identifiers, English labels, codes).
ENGLISH = {"total", "rest", "unknown", "outside", "other", "cases", "case", "budget_ytd", "actual", "actual_ytd",
           "forecast", "deviation", "revenue", "personnel", "fees", "services", "raised", "resolved", "alert",
           "alerts", "spike", "complaint", "complaints", "phone", "letter", "email", "visit", "none", "null", "nan",
           "true", "false", "current", "previous", "year_before", "share", "period", "report", "documents",
           "days", "care", "contacts", "mixed", "åtgärdade", "ovrigt", "vard", "forsaljning"}
CODES = [re.compile(p) for p in (r"\b[a-z]+\.[a-z_]{2,}\b",   # rule ids, category codes
                                 r"SE\d{10}-\d+",             # HSA ids
                                 r"Region \d\d\b",            # county codes
                                 r"\b\d{4}-Q\d\b",            # period codes
                                 r"(?<!kl\. )\b\d+\.\d\d\b",  # kronor with öre (not the time "kl. 22.20")
                                 r"_")]                       # identifiers


RULES = Path(__file__).resolve().parents[3] / "rules"


@pytest.fixture(scope="module")
def year():
    texts = parse_text("## Väsentliga händelser\nFrån och med oktober skickar nämnden skrivelser via diariet.\n\n"
                       "## Mål\n- Budget i balans: **ja**\n- <script>x</script>\n")
    return report_from_events(generate(2023), "2023", region="23", cost_centres=load_cost_centres(RULES), texts=texts)


def visible_text(page: str) -> str:
    """What a reader sees of the HTML: the text of the elements, the SVG charts' labels included."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<title>.*?</title>", " ", page, flags=re.S)
    page = re.sub(r"<!--.*?-->", " ", page, flags=re.S)
    page = re.sub(r"<metadata>.*?</metadata>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


def assert_reads_swedish(text: str) -> None:
    words = {w.lower() for w in re.findall(r"[A-Za-zÅÄÖåäö_]+", text)}
    assert not words & ENGLISH, sorted(words & ENGLISH)
    for pattern in CODES:
        assert not pattern.search(text), (pattern.pattern, pattern.search(text).group(0), text[max(0, pattern.search(text).start() - 80):][:160])


def test_the_economy_table_is_the_seeds_table(year):
    """Jämtland 2023, "Intäkter och kostnader i tkr": outcome, budget, deviation, previous year, change."""
    rows = {(r["key"], r["measure"]): r for r in year["sections"]["budget"]["rows"]}
    cols = ("actual", "budget", "deviation", "previous_year", "change")
    seed = {"forsaljning": (349, 400, -51, 342, 7), "personal": (-3279, -3557, 279, -3337, 59),
            "tjanster": (0, -10, 10, 0, 0), "ovriga": (-235, -333, 98, -181, -54),
            "brutto": (-3514, -3900, 387, -3519, 5), "netto": (-3164, -3500, 336, -3177, 12)}
    for key, figures in seed.items():
        assert tuple(rows[("total", key)][c] for c in cols) == figures, key
    # "Fördelningen per kostnadsställe": +16, +260, +60 tkr
    assert [rows[(cc, "netto")]["deviation"] for cc in ("6101", "6102", "6103")] == [16, 260, 60]
    assert [r["label"] for r in year["sections"]["budget"]["rows"] if r["key"] == "total"] == [
        "Försäljning", "Personalkostnader", "Verksamhetsanknutna tjänster", "Övriga kostnader",
        "Summa bruttokostnader", "Nettokostnader"]
    forecast = {r["key"]: r for r in year["sections"]["forecast"]["rows"]}
    assert forecast["total"]["annual_budget"] == -3500 and forecast["total"]["forecast_run_rate"] == -3164


def test_the_activity_the_seed_reports(year):
    support = {r["key"]: r["current"] for r in year["sections"]["support"]["rows"]}
    # "Den sista december 2023 pågick totalt nio stödpersonsuppdrag. Under året har sex nya ... tillsatts."
    assert (support["assignments_ongoing"], support["assignments_new"], support["assignments_ended"]) == (9, 6, "< 5")
    assert support["visits"] == 1365
    advice = {r["key"]: r["current"] for r in year["sections"]["advice"]["rows"]}
    assert advice["total"] == 262 > 250  # "över 250 telefonsamtal som var av rådgivande/informerande karaktär"
    assert [r["cases"] for r in year["trend"]["rows"]] == [463, 474, 408, 545, 673, 557]


def test_a_quarter_has_its_budget_section_from_its_own_months():
    q1 = report_from_events(generate(2023, scale=0.1), "2023-Q1")
    assert "mars 2023" in q1["sections"]["budget"]["note"]
    rows = {(r["key"], r["measure"]): r for r in q1["sections"]["budget"]["rows"]}
    assert rows[("total", "netto")]["budget"] == -875  # a quarter of −3 500 tkr
    assert rows[("total", "netto")]["previous_year"] == -794  # March 2022: a quarter of −3 176.5


def test_the_html_reads_swedish_with_names(year):
    page = to_html(year)
    text = visible_text(page)
    assert_reads_swedish(text)
    for words in ("Patientnämnden, Region Jämtland Härjedalen — Årsrapport 2023", "Region Gävleborg",
                  "6102 Patientnämndens förvaltning", "Ökning av klagomål på en vårdenhet: upphörda",
                  "Vårdcentral Falun", "Summa bruttokostnader", "-3\u00a0164", "Pågående stödpersonsuppdrag",
                  "Rådgivande kontakter totalt", "Från och med oktober skickar nämnden"):
        assert words in text, words
    assert "Nämndens text till detta avsnitt saknas (rubriken ”Analys av teman och riskområden”" in text
    assert "<li>Budget i balans: <strong>ja</strong></li>" in page
    assert "<script>x" not in page and "&lt;script&gt;x" in page


def test_every_count_a_reader_sees_follows_the_rule_of_five():
    small = report_from_events(generate(2023, scale=0.02), "2023-Q2")
    for name, sec in small["sections"].items():
        if sec["unit"] in ("tkr", "alerts", "days") or "columns" in sec:
            continue
        for row in sec["rows"]:
            if row["key"].endswith("_total"):  # an amount in tkr, hidden with its count
                continue
            for col in ("current", "previous", "year_before"):
                assert not (isinstance(row[col], int) and 0 < row[col] < 5), (name, row)
    assert "< 5" in render(small, "html").replace("&lt;\u00a05", "< 5")


def test_texts_never_invented_and_unknown_headings_refused():
    assert parse_text("# Mål\nEtt mål.\n\n## ANALYS AV TEMAN OCH RISKOMRÅDEN:\nText.") == {
        "mal": "Ett mål.", "analys": "Text."}
    with pytest.raises(ValueError, match="unknown heading 'Ekonomi'"):
        parse_text("## Ekonomi\növerskott")
    with pytest.raises(ValueError, match="before the first heading"):
        parse_text("Lös text\n## Mål\n")
    bare = report_from_events(generate(2023, scale=0.05), "2023")
    assert all(t["text"] is None for t in bare["texts"].values())
    assert to_html(bare).count("Nämndens text till detta avsnitt saknas") == 3


def test_excel_csv_is_what_a_swedish_excel_opens(year):
    text = render(year, "excel")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0] == ["Patientnämnden, Region Jämtland Härjedalen — Årsrapport 2023"]
    shares = [r for r in rows if r and r[0] == "Kommunikation"]
    assert shares and re.fullmatch(r"\d+,\d", shares[0][-1])
    assert ["Patientnämnden totalt", "Nettokostnader", "-3164", "-3500", "336", "-3177", "12"] in rows
    assert_reads_swedish(text.replace(";", " "))


def test_the_pdf_has_numbered_a4_pages_repeated_headers_and_the_seeds_words(year):
    pypdf = pytest.importorskip("pypdf")
    long = {**year, "sections": {**year["sections"]}}
    sub = long["sections"]["cases_by_sub_area"]
    long["sections"]["cases_by_sub_area"] = {**sub, "rows": sub["rows"] + [
        {"key": f"x{i}", "label": f"Delområde {i}", "current": 5 + i, "previous": 7, "year_before": 7, "share": 1.0}
        for i in range(90)]}
    reader = pypdf.PdfReader(io.BytesIO(render(long, "pdf")))
    pages = [p.extract_text() for p in reader.pages]
    n = len(pages)
    assert 7 <= n <= 14, n
    for i, page in enumerate(pages, start=1):
        assert f"Sida {i} av {n}" in page
        assert abs(float(reader.pages[i - 1].mediabox.width) - 595.3) < 1  # A4: 210 mm
    spread = [i for i, p in enumerate(pages) if "Delområde 40" in p or "Delområde 89" in p]
    assert spread and all("Andel 2023, %" in pages[i] for i in spread)  # the header on every page of the table
    assert len({i for i, p in enumerate(pages) if "Delområde" in p}) >= 2
    whole = "\n".join(pages)
    for words in ("Intäkter och kostnader, tkr", "Nettokostnader", "upphörda", "Information och rådgivning"):
        assert words in whole, words


def test_the_budget_section_takes_each_cost_centres_latest_status_within_the_period():
    """Every status on the log is read: a quarter takes its own last month (not the year's latest),
    and of two statuses of one month the later one in the log (a recomputation) wins."""
    from decimal import Decimal

    from shared.apps.report.economy import latest_status
    from shared.contract.events import BudgetStatus

    from .sample import figures

    def status(period, actual):
        f = figures(Decimal("-1200000"), Decimal(actual), int(period[5:]))
        return BudgetStatus(year=2023, period=period, cost_centre="6102", account_groups={"personnel": f}, total=f)

    log = [status("2023-03", "-1200000"), status("2023-06", "-1200000"), status("2023-06", "-1320000"),
           status("2023-09", "-1000000")]
    assert latest_status(log, 2023, "2023-06")["6102"] is log[2]
    assert latest_status(log, 2023, "2023-03")["6102"] is log[0]
    assert latest_status(log, 2022, "2022-06") == {}
