"""derive_id is uuid5 computed without a UUID object (bench/RESULTS.md): the same ids, always."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from shared.contract.events.envelope import ID_NAMESPACE, derive_id

parts = st.lists(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.none()), max_size=5)


@given(parts)
def test_derive_id_equals_uuid5(values: list[object]) -> None:
    assert derive_id(*values) == str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(str(v) for v in values)))


def test_derive_id_known_value() -> None:
    assert derive_id("/pn/diary", "pn.diary.registered", "doc") == str(
        uuid.uuid5(ID_NAMESPACE, "/pn/diary\x1fpn.diary.registered\x1fdoc"))
