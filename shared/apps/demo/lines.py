"""The line format of `pn demo --scenario-only`, read back by `pn publish` (issue 26).

The scenario is printed as `{"topic": ..., "key": ..., "event": {CloudEvent}}` lines in the order
the demo publishes them (reference data before the complaints that name it, closes last). `pn
publish TOPIC FILE` takes such a file: the lines of TOPIC become their bare event, the others are
skipped and counted, so a scenario is replayed topic by topic in catalog order (docs: README,
"Feeding your own data"). Plain CloudEvent lines pass through unchanged.
"""

from __future__ import annotations

import json


def unwrap(line: bytes, topic: str) -> tuple[bytes, bool]:
    """(the line to publish, True when it is a scenario line of another topic)."""
    if not line.startswith(b"{") or b'"topic"' not in line[:200]:
        return line, False
    try:
        obj = json.loads(line)
    except ValueError:
        return line, False
    if not (isinstance(obj, dict) and set(obj) >= {"topic", "event"} and isinstance(obj["event"], dict)):
        return line, False
    if obj["topic"] != topic:
        return line, True
    return json.dumps(obj["event"], ensure_ascii=False, separators=(",", ":")).encode(), False
