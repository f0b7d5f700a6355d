"""The demo scenario: a year at a patientnämnd, generated deterministically from the seeds' figures.

Figures (../shared/design/DOMAIN.md): exactly 557 complaints in the demo's year (Jämtland 2023)
and the years before it in the log (2018–2022: 463, 474, 408, 545, 673), half via 1177, top
themes delaktighet, information, undersökning/bedömning, diagnos, bemötande; ~40 support persons
with ~1,365 visits (Dalarna 2022); 15,467 out-of-region inpatient care days under LPT/LRV
(Dalarna 2022) and 13 outpatient patients of about 60 days each (not surcharged by default); the
Jämtland 2023 budget and the finance system's fixed postings per account row. The scenario also injects what production sees:
duplicates, invalid personnummer, a complaint spike at one unit, an unknown HSA-id, malformed
messages. Everything is generated with a seeded RNG: the same arguments give the same events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.contract.events import (
    AdviceContactRegistered,
    Attachment,
    CareDayCancelled,
    CareDayRecorded,
    CareUnitUpserted,
    ComplaintSubmitted,
    Envelope,
    EventData,
    LetterCreated,
    LetterReceived,
    Patient,
    PeriodCloseRequested,
    Submitter,
    SupportAssigned,
    SupportCareEnded,
    VisitReported,
    derive_id,
    make_event,
)
from shared.contract.topics import (
    ADVICE_CONTACTS,
    CARE_DAYS,
    CARE_UNITS,
    COMMANDS,
    COMPLAINTS_SUBMITTED,
    LETTERS_INCOMING,
    LETTERS_OUTGOING,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
    Topic,
)
from shared.kernel.personnummer import luhn_ok

STOCKHOLM = ZoneInfo("Europe/Stockholm")

# Themes of the national classification with the Jämtland mix (top five first), and words a
# citizen would use (the intake keyword rules match Swedish stems of these).
THEMES: list[tuple[str, float, list[str]]] = [
    ("kommunikation.delaktighet", 0.16, ["Jag fick inte vara delaktig i besluten om min vård.",
                                         "Ingen frågade mig, jag var inte delaktig i planeringen."]),
    ("kommunikation.information", 0.15, ["Jag fick ingen information om behandlingen.",
                                         "Informationen om provsvaren var bristfällig."]),
    ("vard.undersokning", 0.14, ["Läkaren gjorde ingen ordentlig undersökning.",
                                 "Bedömningen på akuten var slarvig, ingen undersökning gjordes."]),
    ("vard.diagnos", 0.12, ["Min diagnos blev fel och upptäcktes för sent.",
                            "Det tog ett år innan jag fick rätt diagnos."]),
    ("kommunikation.bemotande", 0.12, ["Personalen hade ett otrevligt bemötande.",
                                       "Jag blev illa bemött i receptionen, dåligt bemötande."]),
    ("vard.behandling", 0.09, ["Behandlingen hjälpte inte och ingen följde upp.",
                               "Fel behandling gavs trots mina besvär."]),
    ("organisation.tillganglighet", 0.09, ["Jag kom inte fram på telefon och väntetiden var lång.",
                                           "Väntetiden till operation är orimlig."]),
    ("administration.journalhantering", 0.05, ["Det står fel uppgifter i min journal.",
                                               "Jag vill rätta min journal."]),
    ("ovrigt", 0.08, ["Jag vill lämna en synpunkt om parkeringen vid sjukhuset.",
                      "Synpunkt på skyltningen i entrén."]),
]
CHANNELS = [("1177", 0.50), ("phone", 0.24), ("letter", 0.10), ("email", 0.13), ("visit", 0.03)]
PROVIDERS = ["Region Dalarna", "Capio Närsjukvård", "Praktikertjänst", "Kry"]
UNIT_KINDS = ["Psykiatrisk klinik", "Vårdcentral", "Akutmottagning", "Ortopedmottagning",
              "Kvinnoklinik", "Medicinkliniken"]
TOWNS = ["Falun", "Borlänge", "Mora", "Ludvika", "Avesta", "Leksand"]
# Out-of-region compulsory-care days at the 2022 scale (15,467): Gävleborg and Uppsala under
# their agreements, other home regions under Riksavtalet.
HOME_REGIONS = [("21", 0.14), ("03", 0.46), ("01", 0.10), ("05", 0.08), ("13", 0.07), ("22", 0.06),
                ("23", 0.05), ("24", 0.04)]
CARE_DAYS_2022 = 15_467
"""Vårddygn inom slutenvården (inpatient) of out-of-region compulsory-care patients, 2022."""
OUTPATIENTS_2022, OUTPATIENT_DAYS = 13, 60
"""13 out-of-region outpatients in 2022, "en uppskattning kan vara ca 60 dygn/pat" (handlingsplan)."""
AGREEMENTS_FROM = date(2023, 7, 1)  # rules/billing.yaml's default agreements start here
COMPLAINTS_PER_YEAR = {2018: 463, 2019: 474, 2020: 408, 2021: 545, 2022: 673, 2023: 557}
"""Jämtland Härjedalen's complaints per year (verksamhetsberättelse 2023): the demo's year has the
last figure, the years before it are in the log so the report's trend and previous year are real."""


@dataclass
class Step:
    """Events to publish together; `wait` names what the demo waits for before the next step."""

    name: str
    items: list[tuple[Topic, Envelope | bytes]] = field(default_factory=list)

    def add(self, topic: Topic, event: Envelope | bytes) -> None:
        self.items.append((topic, event))


@dataclass
class Expectations:
    complaints_valid: int = 0
    complaints_history: int = 0
    complaints_invalid: int = 0
    complaints_duplicate: int = 0
    malformed: int = 0
    visits: int = 0
    care_days_billable: int = 0
    care_days_other: int = 0
    cancelled_after_invoice: int = 0
    letters_out: int = 0
    letters_in: int = 0
    unknown_hsa: int = 0


class Scenario:
    def __init__(self, year: int = 2023, scale: float = 1.0, seed: int = 17) -> None:
        self.year, self.scale = year, scale
        self.rng = random.Random(seed)
        self.expect = Expectations()
        self.units = self._units()

    # -- helpers ---------------------------------------------------------------------------------
    def _n(self, base: int) -> int:
        return max(1, round(base * self.scale))

    def _at(self, day: date, hour: int | None = None) -> datetime:
        local = datetime.combine(day, time(hour if hour is not None else self.rng.randint(8, 16),
                                           self.rng.randint(0, 59)), STOCKHOLM)
        return local.astimezone(UTC)

    def _event(self, data: EventData, source: str, at: datetime, *cause: object) -> Envelope:
        return make_event(data, source=source, time=at, id=derive_id("demo", data.event_type, *cause))

    def _day(self) -> date:
        return date(self.year, 1, 1) + timedelta(days=self.rng.randrange(365))

    def _personnummer(self, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        while True:
            birth = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
            serial = f"{rng.randrange(1000):03d}"
            stem = birth.strftime("%y%m%d") + serial
            for digit in range(10):
                if luhn_ok(stem + str(digit)):
                    return birth.strftime("%Y%m%d") + serial + str(digit)

    def _pick(self, weighted: list[tuple[str, float]]) -> str:
        return self.rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]

    def _units(self) -> list[CareUnitUpserted]:
        units = []
        for i in range(24):
            provider = PROVIDERS[0] if i < 16 else PROVIDERS[1 + i % 3]
            units.append(CareUnitUpserted(
                hsa_id=f"SE2321000180-{1000 + i}", name=f"{UNIT_KINDS[i % 6]} {TOWNS[(i + i // 6) % 6]}",  # 24 distinct names
                care_provider=provider, region="20",
                registry_address=f"registrator.{1000 + i}@vard.example.se"))
        return units

    # -- the year -------------------------------------------------------------------------------
    def steps(self) -> Iterator[Step]:
        yield self._reference()
        yield self._complaints()
        yield self._support()
        yield self._care_days()

    def _reference(self) -> Step:
        step = Step("care-unit directory")
        for unit in self.units:
            step.add(CARE_UNITS, self._event(unit, "/hsa/sync", self._at(date(self.year, 1, 1), 6), unit.hsa_id))
        return step

    def complaints_in(self, year: int) -> int:
        """The seed's count for `year` (scaled); the demo's own year is 557 whatever it is called."""
        return self._n(COMPLAINTS_PER_YEAR.get(year, COMPLAINTS_PER_YEAR[2023]) if year != self.year
                       else COMPLAINTS_PER_YEAR[2023])

    def complaint_plan(self) -> list[tuple[datetime, ComplaintSubmitted, str]]:
        """(time, complaint, theme) for the year's complaints, including the injected spike and
        three complaints naming a unit the directory does not know: exactly 557 at scale 1."""
        plan = []
        n = self.complaints_in(self.year)
        spike_unit = self.units[3].hsa_id
        for i in range(n):
            theme = self.rng.choices(THEMES, [w for _, w, _ in THEMES])[0]
            day = self._day()
            unit = self.rng.choice(self.units[:20]).hsa_id
            if i < 9:  # a spike (injected noise is not scaled): many complaints on one unit's bemötande in two weeks of October
                theme = THEMES[4]
                day = date(self.year, 10, 2) + timedelta(days=self.rng.randrange(14))
                unit = spike_unit
            elif i >= n - 3:  # a unit the directory does not know
                unit = f"SE2321000180-{9900 + n - 1 - i}"
            plan.append((self._at(day), self._complaint(i, theme, unit), theme[0]))
        plan.sort(key=lambda p: p[0])
        return plan

    def history_plan(self) -> list[tuple[datetime, ComplaintSubmitted]]:
        """The complaints of the five years before the demo's (2018–2022 for 2023), at the seed's
        counts: through intake and the diary like any complaint, so the log holds the trend."""
        rng, out = random.Random(self.year * 7), []
        for year in range(self.year - 5, self.year):
            for i in range(self.complaints_in(year)):
                theme = rng.choices(THEMES, [w for _, w, _ in THEMES])[0]
                day = date(year, 1, 1) + timedelta(days=rng.randrange(365))
                at = datetime.combine(day, time(rng.randint(8, 16), rng.randint(0, 59)), STOCKHOLM).astimezone(UTC)
                channel = "1177" if year >= 2022 and rng.random() < 0.5 else rng.choice(["phone", "letter", "email"])
                out.append((at, ComplaintSubmitted(
                    channel=channel, external_ref=f"{channel}-{year}-{i:05d}" if channel in ("1177", "email") else None,
                    region="20", patient=Patient(personnummer=self._personnummer(rng), name=f"Demo Patient {year}-{i}"),
                    submitter=Submitter(role="patient", email=f"medborgare{year}{i}@example.se"),
                    care_unit_hsa_id=rng.choice(self.units[:20]).hsa_id, description=rng.choice(theme[2]))))
        out.sort(key=lambda p: p[0])
        return out

    def _complaint(self, i: int, theme: tuple[str, float, list[str]], unit: str) -> ComplaintSubmitted:
        channel = self._pick(CHANNELS)
        code, _, texts = theme
        email = f"medborgare{i}@example.se" if channel in ("email", "1177") or self.rng.random() < 0.3 else None
        given = [code] if self.rng.random() < 0.5 else None
        attachments = None
        if channel == "1177" and self.rng.random() < 0.2:
            attachments = [Attachment(filename="kallelse.pdf", media_type="application/pdf",
                                      size_bytes=self.rng.randint(20_000, 900_000),
                                      sha256=f"{self.rng.getrandbits(256):064x}", uri=f"https://filer.1177.example/{i}")]
        return ComplaintSubmitted(
            channel=channel, external_ref=f"{channel}-{self.year}-{i:05d}" if channel in ("1177", "email") else None,
            region="20", patient=Patient(personnummer=self._personnummer(), name=f"Demo Patient {i}"),
            submitter=Submitter(role=self.rng.choice(["patient", "patient", "patient", "relative", "representative"]),
                                email=email),
            care_unit_hsa_id=unit if self.rng.random() < 0.92 else None,
            description=self.rng.choice(texts), categories=given, attachments=attachments)

    def _complaints(self) -> Step:
        step = Step("complaints")
        plan = self.complaint_plan()
        for i, (at, complaint, _theme) in enumerate(plan):
            step.add(COMPLAINTS_SUBMITTED, self._event(complaint, f"/{complaint.channel}/klagomal", at, "complaint", i))
        self.expect.complaints_valid = len(plan)
        # production noise: the same 1177 submission delivered twice, invalid personnummer and
        # messages that are not events at all (none of them a case: the year keeps its 557)
        dup = [(i, c) for i, (_, c, _) in enumerate(plan) if c.external_ref][:5]
        for i, complaint in dup:
            step.add(COMPLAINTS_SUBMITTED, self._event(complaint, f"/{complaint.channel}/klagomal", plan[i][0], "complaint", i))
            step.add(COMPLAINTS_SUBMITTED, self._event(complaint, f"/{complaint.channel}/klagomal", plan[i][0], "redelivered", i))
        self.expect.complaints_duplicate = 2 * len(dup)
        for k in range(6):
            bad = plan[k][1].model_copy(update={"patient": Patient(personnummer="19121212-1213"), "external_ref": None})
            step.add(COMPLAINTS_SUBMITTED, self._event(bad, "/phone/klagomal", plan[k][0], "invalid", k))
        self.expect.complaints_invalid = 6
        self.expect.unknown_hsa = 3  # three of the plan's complaints
        step.add(COMPLAINTS_SUBMITTED, b'{"specversion": "1.0", "id": "broken-1", "type": "pn.complaint.submitted"')
        step.add(COMPLAINTS_SUBMITTED, b"\x00\x01 binary garbage from a misconfigured gateway")
        self.expect.malformed = 2
        return step

    def history(self) -> Step:
        """The five years before the demo's, for the log (the report's trend and previous-year
        columns). Published while the care days are processed, so intake and the diary take them
        beside the other services' work instead of before it (the demo's runtime stays about what
        it was); cases of an earlier year numbered after the demo year's are not counted again by
        the spike signal (it counts in case order), so they change no alert."""
        step = Step("complaints 2018–2022" if self.year == 2023 else "complaints of the five years before")
        history = self.history_plan()
        for i, (at, complaint) in enumerate(history):
            step.add(COMPLAINTS_SUBMITTED, self._event(complaint, f"/{complaint.channel}/klagomal", at, "history", i))
        self.expect.complaints_history = len(history)
        return step

    def letters_for(self, cases: list[tuple[str, str | None, datetime]]) -> Step:
        """Letters to care providers and their replies for opened cases (case id, HSA-id, opened at)."""
        step = Step("letters and replies")
        rng = random.Random(self.year)
        for case_id, hsa_id, opened in cases:
            if not hsa_id or rng.random() > 0.8:
                continue
            sent = opened + timedelta(days=rng.randint(1, 10))
            letter = LetterCreated(letter_id=f"UT-{case_id}", case_id=case_id, recipient_hsa_id=hsa_id,
                                   subject=f"Begäran om yttrande i ärende {case_id}", document_uri=f"doc://{case_id}/ut",
                                   contains_patient_data=rng.random() < 0.9, created_by="handlaggare")
            step.add(LETTERS_OUTGOING, self._event(letter, "/arende/system", sent, "letter-out", case_id))
            self.expect.letters_out += 1
            if rng.random() < 0.75:
                replied = sent + timedelta(days=rng.randint(10, 45))
                reply = LetterReceived(letter_id=f"IN-{case_id}", case_id=case_id, sender_hsa_id=hsa_id,
                                       subject=f"Yttrande i ärende {case_id}", document_uri=f"doc://{case_id}/in",
                                       contains_patient_data=True, received_on=replied.date())
                step.add(LETTERS_INCOMING, self._event(reply, "/arende/system", replied, "letter-in", case_id))
                self.expect.letters_in += 1
        return step

    def _support(self) -> Step:
        step = Step("support persons and visits")
        persons = [f"SP-{i:03d}" for i in range(1, 41)]
        assignments = []
        for a in range(self._n(64)):
            start = date(self.year - 1, 11, 1) + timedelta(days=self.rng.randrange(400))
            start = min(start, date(self.year, 12, 1))
            basis = self.rng.choices(["LPT", "LRV", "SmL"], [0.7, 0.2, 0.1])[0]
            ended = start + timedelta(days=self.rng.randint(30, 200)) if basis != "LRV" and self.rng.random() < 0.7 else None
            assignments.append((f"UPP-{self.year}-{a:03d}", persons[a % 40], start, basis, ended))
        for aid, person, start, basis, ended in assignments:
            at = self._at(max(start, date(self.year - 1, 11, 1)))
            step.add(SUPPORT_ASSIGNMENTS, self._event(
                SupportAssigned(assignment_id=aid, support_person_id=person, patient_ref=f"pat-{aid}",
                                legal_basis=basis, start_date=start), "/pn/stodperson", at, aid))
            if ended:
                step.add(SUPPORT_ASSIGNMENTS, self._event(
                    SupportCareEnded(assignment_id=aid, care_ended_on=ended), "/pas/dalarna", self._at(ended), aid, "ended"))
        target, made = self._n(1365), 0
        while made < target:
            aid, person, start, _basis, ended = self.rng.choice(assignments)
            last = min((ended + timedelta(days=35)) if ended else date(self.year, 12, 31), date(self.year, 12, 31))
            first = max(start, date(self.year, 1, 1))
            if last < first:
                continue
            day = first + timedelta(days=self.rng.randrange((last - first).days + 1))
            kind = self.rng.choices(["visit", "phone", "hearing"], [0.72, 0.23, 0.05])[0]
            late = self.rng.random() < 0.01
            submitted = day + timedelta(days=self.rng.randint(200, 260) if late else self.rng.randint(0, 20))
            visit = VisitReported(
                visit_id=f"BES-{self.year}-{made:05d}", assignment_id=aid, support_person_id=person, date=day, kind=kind,
                travel_km=Decimal(self.rng.choice([0, 0, 8, 12, 24, 36, 55])),
                lost_income=Decimal(self.rng.choice([800, 1200, 1800])) if kind == "hearing" and self.rng.random() < 0.5 else None,
                lost_income_certified=kind == "hearing", submitted_on=submitted)
            step.add(SUPPORT_VISITS, self._event(visit, "/pn/stodperson/e-tjanst", self._at(day), visit.visit_id))
            made += 1
        self.expect.visits = made
        return step

    def _care_days(self) -> Step:
        step = Step("care days")
        stays, made, total = 0, 0, self._n(CARE_DAYS_2022)
        while made < total:  # the seed's 15,467 inpatient days under psychiatry's agreements
            stays += 1
            home = self._pick(HOME_REGIONS)
            length = min(self.rng.randint(5, 90), total - made)
            first = date(self.year, 1, 1) + timedelta(days=self.rng.randrange(365 - min(length, 364)))
            basis = self.rng.choices(["LPT", "LRV"], [0.79, 0.21])[0]
            made += self._stay(step, f"VT-{self.year}-{stays:05d}", home, first, length, basis, "inpatient")
        billable = [e for _t, e in step.items if isinstance(e, Envelope) and e.data.care_date >= AGREEMENTS_FROM]
        self.expect.care_days_billable = len(billable)
        # the 13 outpatients (about 60 days each): recorded, not surcharged unless an agreement says so
        for k in range(self._n(OUTPATIENTS_2022)):
            first = date(self.year, 1, 1) + timedelta(days=self.rng.randrange(365 - OUTPATIENT_DAYS))
            self._stay(step, f"VT-{self.year}-O{k:04d}", self._pick(HOME_REGIONS), first,
                       self._n(OUTPATIENT_DAYS), "LPT", "outpatient")
        # voluntary care and in-region patients: recorded, never billed
        for k in range(self._n(40)):
            first = self._day()
            self._stay(step, f"VT-{self.year}-V{k:04d}", self._pick(HOME_REGIONS), first, 15, None, "inpatient")
            self._stay(step, f"VT-{self.year}-R{k:04d}", "20", first, 20, "LPT", "inpatient")
        self.expect.care_days_other = len(step.items) - made
        return step

    def _stay(self, step: Step, stay: str, home: str, first: date, length: int, basis: str | None, form: str) -> int:
        count = 0
        for d in range(length):
            day = first + timedelta(days=d)
            if day.year != self.year:
                break
            data = CareDayRecorded(care_day_id=f"{stay}-{day.isoformat()}", stay_id=stay, patient_ref=f"pat-{stay}",
                                   home_region=home, care_region="20", care_date=day, form=form, legal_basis=basis,
                                   care_unit_hsa_id=self.units[0].hsa_id)
            step.add(CARE_DAYS, self._event(data, "/pas/dalarna", self._at(day + timedelta(days=1), 2), data.care_day_id))
            count += 1
        return count

    def closes(self) -> Step:
        step = Step("period closes")
        for month in range(1, 13):
            period = f"{self.year}-{month:02d}"
            at = self._at(date(self.year, month, 28), 23)
            for service in ("fees", "billing"):
                step.add(COMMANDS, self._event(PeriodCloseRequested(service=service, period=period), "/ekonomi", at,
                                               service, period))
        return step

    def cancellations(self, care_steps: Step) -> tuple[Step, Step]:
        """Ten invoiced days corrected after the year's close, and the January close that credits them."""
        fix, close = Step("cancelled care days"), Step("January close")
        billed = [e for _t, e in care_steps.items if isinstance(e, Envelope) and e.data.care_date.month == 12
                  and e.data.legal_basis and e.data.home_region != "20"][:10]
        for e in billed:
            fix.add(CARE_DAYS, self._event(CareDayCancelled(care_day_id=e.data.care_day_id, reason="felregistrerad"),
                                           "/pas/dalarna", self._at(date(self.year + 1, 1, 10)), e.data.care_day_id, "cancel"))
        self.expect.cancelled_after_invoice = len(fix.items)
        period = f"{self.year + 1}-01"
        close.add(COMMANDS, self._event(PeriodCloseRequested(service="billing", period=period), "/ekonomi",
                                        self._at(date(self.year + 1, 1, 31), 23), "billing", period))
        return fix, close

    def advice(self) -> Step:
        """Advice contacts that are not complaints: the seed's "över 250" a year, mostly by phone
        (a separate random stream, so the rest of the scenario stays as it was)."""
        rng = random.Random(self.year * 31 + 7)
        step = Step("advice contacts")
        subjects = [("lagstiftning", 0.30), ("rutiner", 0.25), ("hanvisning_ivo", 0.15), ("hanvisning_lof", 0.10),
                    ("hanvisning_annan", 0.12), ("ovrigt", 0.08)]
        for i in range(self._n(262)):
            day = date(self.year, 1, 1) + timedelta(days=rng.randrange(365))
            data = AdviceContactRegistered(
                contact_id=f"RAD-{self.year}-{i:04d}", date=day,
                channel=rng.choices(["phone", "email", "visit"], [0.85, 0.10, 0.05])[0],
                subject_area=rng.choices([k for k, _ in subjects], [w for _, w in subjects])[0])
            step.add(ADVICE_CONTACTS, self._event(data, "/pn/radgivning", self._at(day, 10), data.contact_id))
        return step
