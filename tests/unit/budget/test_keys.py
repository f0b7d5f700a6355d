"""The store keys are the stored layout: the same strings as every earlier version wrote."""

from services.budget import keys


def test_ledger_keys_are_byte_identical():
    assert keys.budget(2091, "6103", "fees") == "b|2091|6103|fees"
    assert keys.posting("6103", "p-1") == "k|6103|p-1"
    assert keys.year_sums(2091, "6103") == "y|2091|6103"
    assert keys.centre_status(2091, "6103") == "s|2091|6103"
    assert keys.centre_status(2091, "6103").startswith(keys.centre_statuses(2091)) and keys.centre_statuses(2091) == "s|2091|"
    assert keys.alert("budget.ytd_deficit|2091|6103") == "a|budget.ytd_deficit|2091|6103"
    assert keys.legacy_index(2091, "6103") == "g|2091|6103"
    assert keys.legacy_bucket(2091, "6103", "2091-03", "fees") == "m|2091|6103|2091-03|fees"
    assert keys.legacy_bucket_of("2091-03|fees") == ("2091-03", "fees")


def test_totals_keys_are_byte_identical():
    assert keys.centre_latest(2091, "6103") == "c|2091|6103"
    assert keys.centres(2091) == "cc|2091"
    assert keys.total_status(2091) == "s|2091"
    assert not keys.centres(2091).startswith(keys.CENTRE_STATUSES)  # "cc|" is not under "c|"


def test_posting_record_round_trips():
    record = keys.posting_record(2091, "2091-03", "fees", "-1234.50")
    assert record == "2091|2091-03|fees|-1234.50"
    assert keys.parse_posting_record(record) == (2091, "2091-03", "fees", "-1234.50")


def test_each_key_starts_with_its_prefix():
    assert {keys.BUDGETS, keys.POSTINGS, keys.YEAR_SUMS, keys.STATUSES, keys.ALERTS, keys.CENTRE_STATUSES,
            keys.CENTRE_LISTS, keys.LEGACY_INDEXES, keys.LEGACY_BUCKETS} == {
        "b|", "k|", "y|", "s|", "a|", "c|", "cc|", "g|", "m|"}
