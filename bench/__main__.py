"""Run the benchmarks and print their figures. See bench/RESULTS.md for a recorded run.

    python -m bench                 # baseline + every service's in-process and on-broker figures
    python -m bench --only raw      # just the raw aiokafka baseline
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil

import bench

from .common import broker, print_table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default=None, help="raw, or a bench module name (e.g. billing_throughput)")
    parser.add_argument("--events", type=int, default=20_000, help="events per on-broker run")
    args = parser.parse_args()
    from .raw_pipe import raw_pipe

    with broker() as (b, _settings):
        baseline = asyncio.run(raw_pipe(b.bootstrap, args.events))
        print_table("baseline (same broker, same run)", [baseline], baseline)
        if args.only == "raw":
            return
        for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
            if info.name in ("common", "raw_pipe", "__main__") or (args.only and info.name != args.only):
                continue
            module = importlib.import_module(f"bench.{info.name}")
            run = getattr(module, "run", None)
            if run is None:
                continue
            print(f"\n== {info.name}")
            run(b.bootstrap, baseline, args.events)


if __name__ == "__main__":
    main()
