"""The event contract in code: one frozen pydantic model per type in EVENTS.md."""

from shared.contract.events.advice import AdviceContactRegistered
from shared.contract.events.audit import CaseRead
from shared.contract.events.care import (
    CareDayCancelled,
    CareDayRecorded,
    InvoiceCredit,
    InvoiceDrafted,
    InvoiceDraftLine,
    InvoiceIssued,
    InvoiceLine,
)
from shared.contract.events.complaints import (
    Attachment,
    CaseOpened,
    CategoryRef,
    ComplaintRejected,
    ComplaintSubmitted,
    NotificationRequested,
    Patient,
    Submitter,
)
from shared.contract.events.envelope import (
    CONTENT_TYPE,
    EVENT_TYPES,
    Envelope,
    EventData,
    decode,
    decoder_for,
    derive_id,
    emitted_event,
    encode,
    envelope_model,
    make_event,
    trusted,
)
from shared.contract.events.finance import BudgetFigures, BudgetSet, BudgetStatus, LedgerPosted
from shared.contract.events.letters import (
    DiaryRegistered,
    LetterCreated,
    LetterDispatched,
    LetterReceived,
)
from shared.contract.events.operations import (
    AlertMessage,
    AlertRaised,
    AlertResolved,
    ErrorDetail,
    EventRejected,
    PeriodCloseRequested,
    Tick,
)
from shared.contract.events.reference import CareUnitUpserted
from shared.contract.events.support import (
    FeeCalculated,
    FeeLine,
    FeePayout,
    FeeRejected,
    SupportAssigned,
    SupportCareEnded,
    SupportEnded,
    VisitReported,
)

__all__ = [name for name in dir() if not name.startswith("_")]
