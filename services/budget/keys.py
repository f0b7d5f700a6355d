"""Every key of budget's two stores, named once (and the one value format code takes apart).

The strings are the stored layout: the local tables, their changelog topics and the record depend
on them byte for byte, so a change here is a migration (see handlers.py's legacy `g|`/`m|` keys),
never a rename. `|` separates the parts. No code takes a key apart (a posting id or an alert id,
itself "rule|year|subject", may be any string as the last part); only the `posting_record` value and
the legacy index entries are split, and their parts (years, periods `YYYY-MM`, account groups,
amounts) hold no `|`.

`ledger` (4 partitions, written from pn.budget.ledger, keyed by cost centre): a cost
centre's facts, keyed by cost centre so each lands in that cost centre's partition.
`totals` (1 partition, fed by pn.budget.centres): every cost centre's latest status and the total.
`published` (global: every worker holds all of it, written beside `totals`): the same latest
statuses (`centre_latest`) and totals (`total_status`), for the view on any worker.
"""

from __future__ import annotations

SEP = "|"

# -- prefixes ---------------------------------------------------------------------------------------
BUDGETS = "b|"
"""ledger: a budget per year, cost centre and account group."""
POSTINGS = "k|"
"""ledger: what each posting counts for now."""
YEAR_SUMS = "y|"
"""ledger: a cost centre's year sums."""
STATUSES = "s|"
"""ledger: a cost centre's last published status; totals: the last published total."""
ALERTS = "a|"
"""ledger and totals: an alert that is raised (and not yet resolved)."""
CENTRE_STATUSES = "c|"
"""totals: a cost centre's latest status, as received on pn.budget.centres."""
CENTRE_LISTS = "cc|"
"""totals: the cost centres with a status in a year."""
LEGACY_INDEXES = "g|"
"""ledger, the version before `y|` (read once, then deleted): a cost centre year's buckets."""
LEGACY_BUCKETS = "m|"
"""ledger, the version before `y|` (read once, then deleted): {posting_id: amount} of a bucket."""


# -- ledger ----------------------------------------------------------------------------------------
def budget(year: int, cc: str, group: str) -> str:
    """ledger: the 12 monthly amounts of a group's budget; keyed by what it budgets, so a later
    set for the same year, cost centre and group replaces the earlier."""
    return f"{BUDGETS}{year}|{cc}|{group}"


def posting(cc: str, posting_id: str) -> str:
    """ledger: where and how much a posting counts (`posting_record`); keyed by its posting_id so
    the same posting again counts once and a changed one moves."""
    return f"{POSTINGS}{cc}|{posting_id}"


def year_sums(year: int, cc: str) -> str:
    """ledger: a cost centre's year sums {"months": {MM: postings}, "groups": {group: [öre,
    postings]}}; one per cost centre year, so its size does not grow with the postings."""
    return f"{YEAR_SUMS}{year}|{cc}"


def centre_status(year: int, cc: str) -> str:
    """ledger: the cost centre's last published status for the year; keyed by what it describes,
    so an unchanged status is not published again (also after a replay)."""
    return f"{STATUSES}{year}|{cc}"


def centre_statuses(year: int) -> str:
    """ledger: the prefix of every cost centre's `centre_status` of a year (the view scans it)."""
    return f"{STATUSES}{year}|"


def alert(alert_id: str) -> str:
    """ledger or totals (the store of the alert's subject): a raised alert {"raised_at", "period"};
    keyed by the alert id (rule, year, subject) so it is raised once and resolved once."""
    return f"{ALERTS}{alert_id}"


def legacy_index(year: int, cc: str) -> str:
    """ledger, older version: the cost centre year's buckets ["period|group", ...]."""
    return f"{LEGACY_INDEXES}{year}|{cc}"


def legacy_bucket(year: int, cc: str, period: str, group: str) -> str:
    """ledger, older version: {posting_id: amount} of one period and account group."""
    return f"{LEGACY_BUCKETS}{year}|{cc}|{period}|{group}"


def legacy_bucket_of(entry: str) -> tuple[str, str]:
    """(period, group) of an entry of a `legacy_index` value ("2091-03|fees")."""
    period, group = entry.split(SEP)
    return period, group


# -- the value of `posting` ------------------------------------------------------------------------
def posting_record(year: int, period: str, group: str, amount: str) -> str:
    """The value under `posting`: `year|period|group|amount` (amount in the wire form of
    money_str); one short string, compared whole to find the same posting again."""
    return f"{year}|{period}|{group}|{amount}"


def parse_posting_record(record: str) -> tuple[int, str, str, str]:
    """(year, period, group, amount) of a `posting_record`."""
    year, period, group, amount = record.split(SEP)
    return int(year), period, group, amount


# -- totals ----------------------------------------------------------------------------------------
def centre_latest(year: int, cc: str) -> str:
    """totals: a cost centre's latest status of the year (its pn.budget.centres payload); keyed by
    cost centre and year, so a newer status replaces the older one."""
    return f"{CENTRE_STATUSES}{year}|{cc}"


def centre_latests(year: int) -> str:
    """totals, published: the prefix of every cost centre's `centre_latest` of a year (the view scans it)."""
    return f"{CENTRE_STATUSES}{year}|"


def centres(year: int) -> str:
    """totals: the sorted cost centres with a `centre_latest` in the year; one per year, so the
    total is summed over them without a scan."""
    return f"{CENTRE_LISTS}{year}"


def total_status(year: int) -> str:
    """totals: the last published total of the year; keyed by year, so an unchanged total is not
    published again."""
    return f"{STATUSES}{year}"
