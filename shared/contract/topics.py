"""The topic catalog: the single source for topic creation, docs, schema export and ACLs.

No service names a topic by a string literal; it imports the `Topic` from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.contract.events import (
    AdviceContactRegistered,
    AlertRaised,
    AlertResolved,
    BudgetSet,
    BudgetStatus,
    CareDayCancelled,
    CareDayRecorded,
    CareUnitUpserted,
    CaseOpened,
    CaseRead,
    ComplaintRejected,
    ComplaintSubmitted,
    DiaryRegistered,
    EventData,
    EventRejected,
    FeeCalculated,
    FeePayout,
    FeeRejected,
    InvoiceDrafted,
    InvoiceIssued,
    LedgerPosted,
    LetterCreated,
    LetterDispatched,
    LetterReceived,
    NotificationRequested,
    PeriodCloseRequested,
    SupportAssigned,
    SupportCareEnded,
    SupportEnded,
    Tick,
    VisitReported,
)

DEFAULT_PARTITIONS = 4

DAY_MS = 86_400_000
DEFAULT_REPLAY_WINDOW_DAYS = 30
"""How long inputs with personal data or free text stay on the log (PN_REPLAY_WINDOW_DAYS): long
enough to rebuild a service after an outage that spans a long weekend, a holiday or a month's close
(the services' own state is in compacted changelogs, so the window bounds only how far back a lost
consumer can re-read its inputs), and short enough that complaint texts, names and contact details
do not become a second, unregistered archive beside the case system."""
TICK_RETENTION_MS = DAY_MS
"""A tick is stale within seconds; one day keeps a post-mortem possible."""


class Retention(StrEnum):
    """Why a topic keeps its records as long as it does (docs/topics.md)."""

    RECORD = "record"
    """The authority's record (what the report, the archive or an auditor reads, and the basis of
    fees, invoices and budget figures): kept (`retention.ms=-1`) until archived and thinned
    (docs/archive.md). Never holds a personnummer, a name, contact details or complaint text."""
    REFERENCE = "reference"
    """Latest per key (the HSA directory): compacted, kept."""
    PERSONAL = "personal"
    """Inputs and hops that carry personal data or free text: kept for the replay window only."""
    INTERNAL = "internal"
    """Service-private hops without personal data: kept for the replay window (a service stopped
    that long still finds its pending work; nothing older is ever read)."""
    OPERATIONAL = "operational"
    """Clock ticks: as short as safety allows."""


RETENTION_REASONS: dict[Retention, str] = {
    Retention.RECORD: "the record of the authority: kept until archived (retention.ms=-1), then thinned",
    Retention.REFERENCE: "latest per key is the meaning: compacted and kept",
    Retention.PERSONAL: "personal data or free text: kept for the replay window (PN_REPLAY_WINDOW_DAYS)",
    Retention.INTERNAL: "internal hop: kept for the replay window (PN_REPLAY_WINDOW_DAYS), read only by its service",
    Retention.OPERATIONAL: "operational: one day",
}


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    event_types: tuple[type[EventData], ...]
    description: str
    partitions: int = DEFAULT_PARTITIONS
    compacted: bool = False
    producers: tuple[str, ...] = ()
    """Who writes: `upstream` or platform service names. Used for ACLs and docs."""
    internal: bool = False
    """Service-private (not part of the public contract)."""
    configs: dict[str, str] = field(default_factory=dict)
    key_fields: tuple[str, ...] = ()
    """`data` fields tried in order for the message key; then `subject`, then the event id."""
    retention: Retention = Retention.RECORD
    retention_reason: str = ""
    """Why this topic has its retention class (docs, AsyncAPI); the class's reason if empty."""
    key_joined: bool = False
    """The key is all `key_fields` joined by '|' (e.g. cost centre|period), not the first present."""

    def __str__(self) -> str:
        return self.name

    def key_for(self, event: Any) -> str:
        return self.key_of(event.data) or event.subject or event.id

    def key_of(self, data: Any) -> str | None:
        """The key from an event's `data`, or None (then the subject or the event id)."""
        if self.key_joined:
            return "|".join(str(getattr(data, name)) for name in self.key_fields)
        for name in self.key_fields:
            value = getattr(data, name, None)
            if value:
                return str(value)
        return None

    @property
    def reason(self) -> str:
        return self.retention_reason or RETENTION_REASONS[self.retention]

    def retention_ms(self, replay_window_days: int = DEFAULT_REPLAY_WINDOW_DAYS) -> int:
        """-1 (kept) for the record and reference data; the replay window or a day otherwise."""
        if self.retention in (Retention.RECORD, Retention.REFERENCE):
            return -1
        if self.retention in (Retention.PERSONAL, Retention.INTERNAL):
            return replay_window_days * DAY_MS
        return TICK_RETENTION_MS

    def configs_for(self, replay_window_days: int = DEFAULT_REPLAY_WINDOW_DAYS) -> dict[str, str]:
        """The topic-level configuration `pn topics` creates and reconciles."""
        return {"cleanup.policy": "compact" if self.compacted else "delete",
                "retention.ms": str(self.retention_ms(replay_window_days)), **self.configs}

    @property
    def topic_configs(self) -> dict[str, str]:
        return self.configs_for()


UP = ("upstream",)

COMPLAINTS_SUBMITTED = Topic(
    "pn.complaints.submitted", "external_ref or event id", (ComplaintSubmitted,),
    "Complaints from 1177, phone, letter, e-mail and visits.", producers=UP + ("intake",), key_fields=('external_ref',),
    retention=Retention.PERSONAL, retention_reason="complaint text, personnummer, name and contact details: kept for the replay window; the case (pn.cases.opened) is the record")
CARE_UNITS = Topic(
    "pn.reference.care-units", "hsa_id", (CareUnitUpserted,),
    "The HSA care-unit directory (latest per unit).", compacted=True, producers=UP, key_fields=('hsa_id',),
    retention=Retention.REFERENCE)
LETTERS_OUTGOING = Topic(
    "pn.letters.outgoing", "case_id", (LetterCreated,),
    "Letters the case system wants sent to a care provider.", producers=UP, key_fields=('case_id',),
    retention=Retention.PERSONAL, retention_reason="free-text subject: kept for the replay window; the diary entry and pn.letters.dispatched are the record")
LETTERS_INCOMING = Topic(
    "pn.letters.incoming", "case_id", (LetterReceived,),
    "Letters received from care providers.", producers=UP, key_fields=('case_id',),
    retention=Retention.PERSONAL, retention_reason="free-text subject: kept for the replay window; the diary entry is the record")
SUPPORT_ASSIGNMENTS = Topic(
    "pn.support.assignments", "assignment_id", (SupportAssigned, SupportCareEnded, SupportEnded),
    "Support-person assignments and the end of compulsory care.", producers=UP, key_fields=('assignment_id',),
    retention_reason="the basis of fee decisions (pseudonymous patient_ref only): kept")
SUPPORT_VISITS = Topic(
    "pn.support.visits", "support_person_id", (VisitReported,),
    "Visits reported by support persons.", producers=UP, key_fields=('support_person_id',),
    retention_reason="the basis of fee decisions: kept")
ADVICE_CONTACTS = Topic(
    "pn.advice.contacts", "contact_id", (AdviceContactRegistered,),
    "Advice contacts that are not complaints (date, channel, subject area; no personal data), counted "
    "per period in the report.", producers=UP, key_fields=('contact_id',),
    retention_reason="counted in the reports of every period (date, channel, subject area; no personal data): kept")
CARE_DAYS = Topic(
    "pn.care.days", "stay_id", (CareDayRecorded, CareDayCancelled),
    "Care days (vårddygn) from the patient administration system.", producers=UP, key_fields=('stay_id',),
    retention_reason="the basis of invoices (pseudonymous patient_ref only): kept")
FINANCE_BUDGETS = Topic(
    "pn.finance.budgets", "cost_centre", (BudgetSet,),
    "Budgets per year, cost centre and account group.", producers=UP, key_fields=('cost_centre',),
    retention_reason="the basis of budget status: kept")
FINANCE_POSTINGS = Topic(
    "pn.finance.postings", "cost_centre", (LedgerPosted,),
    "Ledger postings from finance, fees and billing.", producers=UP + ("fees", "billing"), key_fields=('cost_centre',),
    retention_reason="accounting records (bokföring) and the basis of budget status: kept")
COMMANDS = Topic(
    "pn.commands", "target service", (PeriodCloseRequested,),
    "Requests to close a period (fees payouts, billing invoices).", partitions=1, producers=UP, key_fields=('service',),
    retention_reason="who closed which period when: kept")

CASES_OPENED = Topic(
    "pn.cases.opened", "case_id", (CaseOpened,), "One per accepted complaint.", producers=("intake",), key_fields=('case_id',))
COMPLAINTS_REJECTED = Topic(
    "pn.complaints.rejected", "event id", (ComplaintRejected,),
    "Complaints that cannot be a complaint, with a reason code.", producers=("intake",))
NOTIFICATIONS = Topic(
    "pn.notifications", "case_id", (NotificationRequested,),
    "Receipts and status updates to the submitter.", producers=("intake",), key_fields=('case_id',),
    retention=Retention.PERSONAL, retention_reason="a recipient's contact reference: kept for the replay window; the case is the record")
DIARY_ENTRIES = Topic(
    "pn.diary.entries", "diary_number", (DiaryRegistered,),
    "The public diary (diarium): every registered document.", producers=("diary",), key_fields=('diary_number',))
LETTERS_DISPATCHED = Topic(
    "pn.letters.dispatched", "recipient_hsa_id", (LetterDispatched,),
    "Letters sent to a care provider's registry after registration.", producers=("diary",), key_fields=('recipient_hsa_id',))
FEES_CALCULATED = Topic(
    "pn.fees.calculated", "support_person_id", (FeeCalculated,),
    "The fee decided for each accepted visit.", producers=("fees",), key_fields=('support_person_id',))
FEES_REJECTED = Topic(
    "pn.fees.rejected", "support_person_id", (FeeRejected,),
    "Visits that earn no fee, with a reason code.", producers=("fees",), key_fields=('support_person_id',))
FEES_PAYOUTS = Topic(
    "pn.fees.payouts", "support_person_id", (FeePayout,),
    "Monthly payout per support person.", producers=("fees",), key_fields=('support_person_id',))
BILLING_INVOICES = Topic(
    "pn.billing.invoices", "home_region", (InvoiceIssued,),
    "Monthly invoices to home regions for out-of-region compulsory care.", producers=("billing",), key_fields=('home_region',))
BUDGET_STATUS = Topic(
    "pn.budget.status", "cost_centre|period (e.g. 6101|2023-03)", (BudgetStatus,),
    "Outcome vs budget per cost centre: the latest status of every month (compacted per cost centre and "
    "period, so every month of every year can be rebuilt).", compacted=True, producers=("budget",),
    key_fields=("cost_centre", "period"), key_joined=True,
    retention_reason="the record (every month's budget status): compacted per cost centre and period, kept")
ALERTS_BUDGET = Topic(
    "pn.alerts.budget", "alert key", (AlertRaised, AlertResolved),
    "Budget alerts for controllers.", producers=("budget",), key_fields=('alert_id',))
ALERTS_OPS = Topic(
    "pn.alerts.ops", "alert key", (AlertRaised, AlertResolved),
    "Operational alerts for case officers and operators.",
    producers=("intake", "diary", "fees", "billing", "budget"), key_fields=('alert_id',))
DEADLETTER = Topic(
    "pn.deadletter", "source topic", (EventRejected,),
    "Messages that could not be parsed or validated, with the reason and the original bytes.",
    producers=("intake", "diary", "fees", "billing", "budget", "ops"),
    configs={"max.message.bytes": "4194304"}, key_fields=('source_topic',),
    retention=Retention.PERSONAL, retention_reason="the original bytes of any input, a malformed complaint's text and personnummer included: kept for the replay window (long enough to inspect and replay), not as the record")

AUDIT_READS = Topic(
    "pn.audit.reads", "case_id", (CaseRead,),
    "Audit trail: one event per read of case data through a service's API (who, role, view, case id, "
    "when); never case content.", producers=("intake", "diary"), key_fields=("case_id",))

# Service-private topics (not part of the public contract) are appended below by the services
# that own them; each names its owner in `producers` and sets internal=True.
DIARY_QUEUE = Topic(
    "pn.diary.queue", "year", (CaseOpened, LetterReceived, LetterCreated, CareUnitUpserted),
    "Diary-internal: every document to register, in one partition so numbering is gapless.",
    partitions=1, producers=("diary",), internal=True,
    retention=Retention.PERSONAL, retention_reason="letters' free-text subjects on their way to registration: kept for the replay window")

TICKS = Topic(
    "pn.ticks", "none (one tick per partition)", (Tick,),
    "Internal clock: each service's timer ticks every partition; a service acts on its own ticks.",
    producers=("intake", "diary", "fees", "billing", "budget"), internal=True,
    retention=Retention.OPERATIONAL)
INTAKE_ACCEPTED = Topic(
    "pn.intake.accepted", "none (one partition)", (ComplaintSubmitted, CareUnitUpserted, DiaryRegistered, Tick),
    "Intake-internal: valid complaints in one partition, so case numbers are gapless per year; beside them, "
    "in the same log order, what stage 2 reads with them (the HSA directory's units, the diary's registered "
    "letters of a case, intake's own ticks), so every read of stage 2 is local with several workers.",
    partitions=1, producers=("intake",), internal=True,
    retention=Retention.PERSONAL, retention_reason="whole complaints on their way to a case number: kept for the replay window")

DIARY_DISPATCH = Topic(
    "pn.diary.dispatch", "recipient hsa_id", (DiaryRegistered, CareUnitUpserted),
    "Diary-internal: registered outgoing letters and directory units re-keyed by the recipient's HSA-id, so "
    "a letter waiting for its unit and the unit's arrival meet on one partition, whichever worker holds it.",
    producers=("diary",), internal=True, key_fields=("counterpart", "hsa_id"),
    retention=Retention.INTERNAL,
    retention_reason="public diary entries and directory units (no personal data) on their way to "
                     "dispatch: kept for the replay window")

FEES_DRAFTS = Topic(
    "pn.fees.drafts", "none (one partition)", (FeePayout,),
    "Fees-internal: each close's proposed payouts in one partition; the first draft of a payout wins, so "
    "a close replayed after a crash can neither pay a fee twice nor drop one.", partitions=1,
    producers=("fees",), internal=True, key_fields=("support_person_id",),
    retention=Retention.INTERNAL)
FEES_PERSONS = Topic(
    "pn.fees.persons", "support_person_id (partition chosen by fees: crc32 of the key)",
    (SupportAssigned, SupportCareEnded, SupportEnded, VisitReported, PeriodCloseRequested),
    "Fees-internal repartition: assignments and visits re-keyed by support person, so that an assignment, "
    "its visits, its weeks, the person's lost-income days and fees are on one partition and read by one "
    "worker; each close is broadcast to every partition.", producers=("fees",), internal=True,
    key_fields=("support_person_id",), retention=Retention.INTERNAL,
    retention_reason="assignments and visits (pseudonymous patient_ref only) on their way to pricing, "
    "and closes: kept for the replay window; pn.support.* are the record and fees' state is in its changelogs")
BILLING_DRAFTS = Topic(
    "pn.billing.drafts", "none (one partition)", (InvoiceDrafted,),
    "Billing-internal: each close's proposed invoices in one partition, so invoice numbers and contents "
    "replay identically after a crash.", partitions=1, producers=("billing",), internal=True,
    retention=Retention.INTERNAL)

BILLING_DAYS = Topic(
    "pn.billing.days", "none (one partition)", (CareDayRecorded, CareDayCancelled),
    "Billing-internal: every care day and cancel of pn.care.days, moved into one partition, so the duplicate "
    "check (patient and date across stays), a cancel (by care_day_id) and a close (every day of a period) "
    "read state that is local to one worker, whatever the number of workers.", partitions=1,
    producers=("billing",), internal=True,
    retention=Retention.INTERNAL, retention_reason="care days on their way to billing's one-partition stage "
    "(pseudonymous patient_ref only; pn.care.days is the record): kept for the replay window")

BUDGET_LEDGER = Topic(
    "pn.budget.ledger", "cost_centre", (BudgetSet, LedgerPosted),
    "Budget-internal: the nämnd's budgets and postings re-keyed by cost centre with our own partitioner, so a "
    "cost centre's budgets and postings meet on one partition (one worker) whichever partitioner their "
    "producers used (upstream's may not be murmur2).", producers=("budget",), internal=True,
    key_fields=("cost_centre",), retention=Retention.INTERNAL)

BUDGET_CENTRES = Topic(
    "pn.budget.centres", "none (one partition)", (BudgetStatus,),
    "Budget-internal: each cost centre's latest figures in one partition, so the total over all cost "
    "centres and its alerts are computed in one place, also with several workers.",
    partitions=1, producers=("budget",), internal=True,
    retention=Retention.INTERNAL)

CATALOG: tuple[Topic, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Topic))
BY_NAME: dict[str, Topic] = {t.name: t for t in CATALOG}


def topic(name: str) -> Topic:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; known: {', '.join(sorted(BY_NAME))}") from None
