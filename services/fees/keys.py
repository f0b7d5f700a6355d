"""Every key of the fees service's two stores, named once.

The strings are the stored tables' and changelogs' keys: never change one (a renamed key is a
lost fact after an upgrade). Handlers and views build and take keys apart only through these.

- `routes` (ROUTE_HANDLERS, `pn.support.assignments`, 4 partitions): each assignment's support
  person and the end dates that came before it, keyed by assignment (the topic's key).
- `persons` (VISIT_HANDLERS, `pn.fees.persons` and `pn.ticks`, 4 partitions): facts keyed by their
  cause, so a replay after a crash reaches the same decision; every one belongs to one support
  person and is written only from that person's partition (docs/fees.md, "State").
- `books` (BOOK_HANDLERS, `pn.commands` and `pn.fees.drafts`, 1 partition): closes and issued payouts.
"""

from __future__ import annotations

from datetime import date

# -- fees store -------------------------------------------------------------------------------
HELD = "h|"
"""Prefix of the held visits (`held`), swept by the tick."""
FEES = "f|"
"""Prefix of the decided fees (`fee`), read at a period's close and by the summary view."""


def assignment(assignment_id: str) -> str:
    """fees: the uppdrag (support person, start date), keyed by its id as every visit names it."""
    return f"a|{assignment_id}"


def care_ended(assignment_id: str) -> str:
    """fees: the date compulsory care ended, keyed by the assignment so it may arrive in any order."""
    return f"c|{assignment_id}"


def ended(assignment_id: str) -> str:
    """fees: the date the assignment ended, keyed by the assignment so it may arrive in any order."""
    return f"e|{assignment_id}"


def visit(visit_id: str) -> str:
    """fees: the content digest of a decided visit, keyed by visit id: a visit is decided once."""
    return f"v|{visit_id}"


def conflict(visit_id: str, content: str) -> str:
    """fees: a rejected re-send of a visit with other content, keyed by visit id and that content
    digest, so each conflicting content is rejected once however often it is redelivered."""
    return f"r|{visit_id}|{content}"


def held(assignment_id: str, visit_id: str) -> str:
    """fees: a visit held until its assignment arrives, keyed by assignment then visit so the
    assignment's visits sort together."""
    return f"{HELD}{assignment_id}|{visit_id}"


def held_index(assignment_id: str) -> str:
    """fees: the ids of the visits held for an assignment, keyed by the assignment so its arrival
    finds them without a scan."""
    return f"H|{assignment_id}"


def week(assignment_id: str, iso_week: str) -> str:
    """fees: the visit that carries an assignment's weekly arvode (its earliest contact by date and
    visit id so far) with the week's lines it was paid, keyed by assignment and ISO week."""
    return f"w|{assignment_id}|{iso_week}"


def lost_income_day(support_person_id: str, day: date) -> str:
    """fees: the day's lost-income claims of a support person and what each was paid, keyed by
    person and day because the cap is per person and day (docs/domain.md A9)."""
    return f"l|{support_person_id}|{day.isoformat()}"


CLOSED = "closed|"
"""Prefix of the closes (books: `closed`; persons: `closed_partition`), read by the summary view."""


def closed_partition(period: str, partition: int) -> str:
    """persons: a close of `period` handled on `partition` (each partition drafts its own persons'
    payouts once), keyed by both so the key is set from that partition only."""
    return f"{CLOSED}{period}|{partition}"


def closed_period(key: str) -> str:
    """The period of a `closed` or `closed_partition` key."""
    return key[len(CLOSED):].split("|", 1)[0]


def route(assignment_id: str) -> str:
    """routes: the support person of an assignment (where its facts go on pn.fees.persons)."""
    return f"s|{assignment_id}"


def pending_ends(assignment_id: str) -> str:
    """routes: end dates (care ended, ended) that came before their assignment, forwarded with it."""
    return f"p|{assignment_id}"


def fee(fee_id: str) -> str:
    """fees: a decided fee (person, period, taxable and tax-free sums), keyed by its id, derived
    from the visit, so a replayed visit writes the same fee."""
    return f"{FEES}{fee_id}"


def fee_id(key: str) -> str:
    """The fee id of a `fee` key."""
    return key[len(FEES):]


# -- books store ------------------------------------------------------------------------------
ISSUED = "issued|"
"""Prefix of the issued payouts (`issued`): the fees they hold are paid."""


def closed(period: str) -> str:
    """books: the close command's event id for a period, keyed by the period: it is closed once."""
    return f"{CLOSED}{period}"


def issued(draft_id: str) -> str:
    """books: the payout issued for a draft, keyed by the draft's event id (one write), so a
    replay re-emits exactly the same payout and no fee is paid twice."""
    return f"{ISSUED}{draft_id}"
