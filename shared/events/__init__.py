"""The event contract in code: one frozen pydantic model per type in EVENTS.md."""

from .advice import AdviceContactRegistered
from .audit import CaseRead
from .care import (
    CareDayCancelled,
    CareDayRecorded,
    InvoiceCredit,
    InvoiceDrafted,
    InvoiceDraftLine,
    InvoiceIssued,
    InvoiceLine,
)
from .complaints import (
    Attachment,
    CaseOpened,
    CategoryRef,
    ComplaintRejected,
    ComplaintSubmitted,
    NotificationRequested,
    Patient,
    Submitter,
)
from .envelope import (
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
from .finance import BudgetFigures, BudgetSet, BudgetStatus, LedgerPosted
from .letters import DiaryRegistered, LetterCreated, LetterDispatched, LetterReceived
from .operations import (
    AlertMessage,
    AlertRaised,
    AlertResolved,
    ErrorDetail,
    EventRejected,
    PeriodCloseRequested,
    Tick,
)
from .reference import CareUnitUpserted
from .support import (
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
