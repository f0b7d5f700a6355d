"""Advice contacts (rådgivande samtal): information and guidance that is not a complaint.

The nämnd's duty under lag (2017:372) om stöd vid klagomål mot hälso- och sjukvården includes
helping patients find the information they need and the right authority (IVO, LÖF). These contacts
are counted per period in the report ("över 250 rådgivande samtal"); the event carries no personal
data and no free text: a date, a channel and a subject area only.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from shared.contract.events.envelope import EventData
from shared.contract.events.types import Id

AdviceChannel = Literal["phone", "letter", "email", "visit", "1177"]
AdviceSubject = Literal["lagstiftning", "rutiner", "hanvisning_ivo", "hanvisning_lof", "hanvisning_annan", "ovrigt"]


class AdviceContactRegistered(EventData):
    event_type = "pn.advice.contact_registered"

    contact_id: Id
    date: date
    channel: AdviceChannel
    subject_area: AdviceSubject
