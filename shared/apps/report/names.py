"""What a reader of the report sees instead of codes: regions, care units, cost centres, alert rules
and periods by their Swedish names.

A board member reads "Region Gävleborg", "Psykiatrisk mottagning Falun", "6102 Patientnämndens
förvaltning" and "Ökning av klagomål på en vårdenhet", never "21", an HSA id or a rule id. Care
units are named from the HSA directory topic (`pn.reference.care-units`); cost centres from
`rules/cost_centres.yaml` (the region's chart of accounts, not code); a code without a name gets a
Swedish placeholder, never the bare code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

# Sweden's county codes (länskoder) and the region that is the health-care authority of each.
REGIONS: dict[str, str] = {
    "01": "Region Stockholm", "03": "Region Uppsala", "04": "Region Sörmland", "05": "Region Östergötland",
    "06": "Region Jönköpings län", "07": "Region Kronoberg", "08": "Region Kalmar län", "09": "Region Gotland",
    "10": "Region Blekinge", "12": "Region Skåne", "13": "Region Halland", "14": "Västra Götalandsregionen",
    "17": "Region Värmland", "18": "Region Örebro län", "19": "Region Västmanland", "20": "Region Dalarna",
    "21": "Region Gävleborg", "22": "Region Västernorrland", "23": "Region Jämtland Härjedalen",
    "24": "Region Västerbotten", "25": "Region Norrbotten",
}
UNKNOWN_REGION = "Okänd region"

# Alert rules by what they watch, in the words of a board member (rules/budget_alerts.yaml, intake).
ALERT_RULES: dict[str, str] = {
    "intake.complaint_spike": "Ökning av klagomål på en vårdenhet",
    "budget.ytd_deficit": "Underskott mot budget hittills i år",
    "budget.forecast_deficit": "Helårsprognos under årsbudget för ett kostnadsställe",
    "budget.total_forecast_deficit": "Nämndens helårsprognos under årsbudget",
    "budget.revenue_shortfall": "Intäkter under 90 % av budget",
}
OTHER_RULE = "Övrig larmregel"

UNIT_UNKNOWN = "Vårdenhet ej angiven"
UNIT_OUTSIDE = "Vårdenhet utanför HSA-katalogen"
PROVIDER_UNKNOWN = "Vårdgivare ej angiven"
REST = "Övriga"

COST_CENTRES_FILE = "cost_centres.yaml"


def region_name(code: str | None) -> str:
    return REGIONS.get(code or "", UNKNOWN_REGION)


def rule_name(rule_id: str) -> str:
    return ALERT_RULES.get(rule_id, OTHER_RULE)


def cost_centre_name(code: str, names: Mapping[str, str]) -> str:
    """"6102 Patientnämndens förvaltning", as the seed writes it; "Kostnadsställe 6104" without a name."""
    if code == "total":
        return "Patientnämnden totalt"
    return f"{code} {names[code]}" if code in names else f"Kostnadsställe {code}"


def load_cost_centres(rules_dir: Path | str | None) -> dict[str, str]:
    """Cost-centre names from `<rules_dir>/cost_centres.yaml` (`cost_centres: {"6101": name}`);
    empty when the file is absent (the report then says "Kostnadsställe 6101")."""
    if rules_dir is None:
        return {}
    path = Path(rules_dir) / COST_CENTRES_FILE
    if not path.exists():
        return {}
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    centres = data.get("cost_centres") or {}
    if not isinstance(centres, dict):
        raise ValueError(f"{path}: cost_centres must be a mapping of cost centre to name")
    return {str(k): str(v) for k, v in centres.items()}


def care_unit_names(units: Iterable[Any]) -> dict[str, str]:
    """HSA id → name from `pn.care_unit.upserted` events; the latest event of a unit wins."""
    return {u.hsa_id: u.name for u in units}


def period_name(name: str) -> str:
    """"2023" stays; "2023-Q3" is "kv. 3 2023"."""
    if "-Q" in name:
        year, quarter = name.split("-Q")
        return f"kv. {quarter} {year}"
    return name
