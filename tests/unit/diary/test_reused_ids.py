"""Issue 22: a document under an event id used before with other content is dead-lettered
(`event_id_reused`), never registered; the same id and content again is a duplicate."""

from __future__ import annotations

from shared.contract.topics import CASES_OPENED, DEADLETTER, DIARY_ENTRIES, LETTERS_INCOMING

from .factories import case_opened, letter_in
from .test_handlers import Diary


async def test_a_document_under_a_used_event_id_is_refused_and_not_registered():
    diary = Diary()
    await diary.send(CASES_OPENED, case_opened("PN-2023-00001"), id="ev-1")
    await diary.send(LETTERS_INCOMING, letter_in("R1", "PN-2023-00001"), id="ev-2")
    await diary.send(LETTERS_INCOMING, letter_in("R2", "PN-2023-00001"), id="ev-2")  # another letter, same id
    await diary.send(LETTERS_INCOMING, letter_in("R1", "PN-2023-00001"), id="ev-2")  # the first again
    await diary.pump()
    [letter] = diary.on(DEADLETTER)
    assert letter.errors[0].msg.startswith("event_id_reused") and letter.source_topic == LETTERS_INCOMING.name
    entries = diary.on(DIARY_ENTRIES)
    assert len(entries) == 2 and {e.document_kind for e in entries} == {"complaint", "letter"}
