"""A small scenario through the real intake and diary services (processes, own broker), then
`pn report`: the report's counts equal the counts of what was fed in. Fees, billing and budget
figures are covered by test_report.py (events published straight onto their output topics)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shared.contract.events import make_event
from shared.contract.topics import CARE_UNITS, CASES_OPENED, COMPLAINTS_SUBMITTED, DIARY_ENTRIES
from shared.kafka.io import events_of, produce, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from ..conftest import ROOT
from ..unit.intake.factories import care_unit, complaint, personnummer

pytestmark = [pytest.mark.broker, pytest.mark.slow]
UNITS = {"SE2321000180-7001": "Region Dalarna", "SE2321000180-7002": "Capio Närsjukvård"}
# (channel, unit, submitter's category) x how many: some cells >= 5, some below
PLAN = [("1177", "SE2321000180-7001", "vard.diagnos")] * 6 + [("phone", "SE2321000180-7002", "kommunikation.bemotande")] * 3 \
    + [("email", "SE2321000180-7001", "organisation.tillganglighet")] * 2


def masked(n: int):
    return "< 5" if 0 < n < 5 else n


async def test_report_of_a_scenario_through_intake_and_diary(tmp_path):
    started = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    stack = Stack(["intake", "diary"], work_dir=tmp_path, env={"PN_RULES_DIR": str(ROOT / "rules")})
    await asyncio.to_thread(stack.start, 60)  # its own broker: intake stamps cases with today's date
    try:
        settings = PnSettings(kafka_bootstrap=stack.bootstrap)
        now = datetime.now(UTC)
        await produce(settings, CARE_UNITS, [make_event(care_unit(hsa, provider), source="/hsa", time=now, id=f"{tag}-u{hsa}")
                                             for hsa, provider in UNITS.items()])
        await asyncio.sleep(1.0)  # the directory before the complaints that name its units
        complaints = [make_event(complaint(channel=ch, external_ref=f"{tag}-{i}", care_unit_hsa_id=unit, categories=[code],
                                           patient={"personnummer": personnummer(i)}),
                                 source="/test/report", time=now, id=f"{tag}-c{i}")
                      for i, (ch, unit, code) in enumerate(PLAN)]
        await produce(settings, COMPLAINTS_SUBMITTED, complaints)
        records = await wait_for(settings, [CASES_OPENED, DIARY_ENTRIES], lambda rs: sum(
            e.type == "pn.diary.registered" and e.data.document_kind == "complaint" for e in events_of(rs)) >= len(PLAN),
            timeout=45)
        year = str(now.astimezone(ZoneInfo("Europe/Stockholm")).year)
        out = tmp_path / "r.json"
        res = subprocess.run([sys.executable, "-m", "shared.cli", "report", "--period", year, "--format", "json", "--out", str(out)],
                             capture_output=True, text=True, timeout=60, env={**os.environ, "PN_KAFKA_BOOTSTRAP": stack.bootstrap})
    finally:
        stack.stop()
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    cases = [e.data for e in events_of(records) if e.type == "pn.case.opened"]
    assert len(cases) == len(PLAN)

    rows = {name: {r["key"]: r["current"] for r in sec["rows"]} for name, sec in report["sections"].items()}
    assert rows["cases_by_channel"] == {**{ch: masked(n) for ch, n in Counter(p[0] for p in PLAN).items()}, "total": len(PLAN)}
    assert {k: v for k, v in rows["cases_by_provider"].items() if k != "rest"} == {
        p: masked(n) for p, n in Counter(UNITS[p[1]] for p in PLAN).items()}
    assert {k: v for k, v in rows["cases_by_unit"].items() if k != "rest"} == {u: masked(n) for u, n in Counter(p[1] for p in PLAN).items()}
    # categories: the submitter's code per case, plus whatever intake's rules added (counted from the cases)
    def area(code: str) -> str:
        head = code.split(".")[0]
        return "ovrigt" if head in ("other", "ovrigt") else head

    areas = Counter(a for c in cases for a in {area(ref.code) for ref in c.categories})
    assert {k: v for k, v in rows["cases_by_main_area"].items() if v} == {a: masked(n) for a, n in areas.items()}
    assert rows["cases_by_sub_area"]["vard.diagnos"] == 6
    assert rows["letters"]["complaints_registered"] == len(PLAN)
    assert time.monotonic() - started < 60, f"took {time.monotonic() - started:.0f} s"
