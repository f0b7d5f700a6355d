"""Write a report of a generated demo-like year (tests/unit/report/sample.py) and print the timings.

    python -m tests.unit.report.make_sample_report 2023 /tmp/report-2023.html
To measure the build time (decode + figures + render; `.pdf` renders the PDF). The README's pictures
come from `pn demo`'s own report (`make report-pictures`), not from this sample."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from shared.apps.report.build import decode_records, write_report
from shared.apps.report.figures import report_from_events
from shared.contract.events import encode

from .sample import generate


def main(period: str = "2023", out: str = "/tmp/report-2023.html") -> None:
    raw = [encode(e) for e in generate(int(period[:4]))]
    started = time.monotonic()
    report = report_from_events(decode_records(raw), period, generated_at=datetime(2024, 1, 15, 8, tzinfo=UTC))
    built = time.monotonic()
    fmt = {"csv": "csv", "json": "json", "pdf": "pdf", "png": "png"}.get(out.rsplit(".", 1)[-1], "html")
    write_report(report, fmt, out)
    sys.stdout.write(f"{len(raw)} records: decode+figures {built - started:.2f} s, "
                     f"+render {time.monotonic() - built:.2f} s -> {out}\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
