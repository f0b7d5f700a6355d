"""What each private hook of shared/runtime/hooks.py buys: worker CPU per input with it on and off.

    python -m bench.hooks [SERVICE] [N] [PAIRS] [HOOK,...]

For every hook named (default: the four that act on the consume/produce path), runs
`bench.worker_cpu SERVICE N` PAIRS times with the hook on and with `PN_HOOKS_OFF=HOOK`,
alternating (on, off, on, off, …) so that drift of a shared machine falls on both alike, and
prints the median µs per input of each side and the median of the paired differences. A hook
stays only where "off" costs clearly more than the spread of the pairs (bench/RESULTS.md).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys

CPU_HOOKS = ("batch_feed", "fetch_loop", "changelog", "batched_publish")
LINE = re.compile(r"worker CPU [\d.]+ s = (\d+) µs per input")


def one_run(service: str, n: int, off: str) -> int:
    env = {**os.environ, "PN_HOOKS_OFF": off}
    out = subprocess.run([sys.executable, "-m", "bench.worker_cpu", service, str(n)], env=env,
                         capture_output=True, text=True, timeout=600)
    found = LINE.search(out.stdout)
    if not found:
        raise RuntimeError(f"no figure from bench.worker_cpu (off={off!r}):\n{out.stdout}\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main(service: str = "intake", n: int = 5000, pairs: int = 5, names: tuple[str, ...] = CPU_HOOKS) -> None:
    print(f"worker CPU per input, {service}, {n} inputs a run, {pairs} alternated pairs per hook")
    for hook in names:
        on, off = [], []
        for _ in range(pairs):
            on.append(one_run(service, n, ""))
            off.append(one_run(service, n, hook))
        diffs = [b - a for a, b in zip(on, off, strict=True)]
        print(f"{hook:16s} on {statistics.median(on):5.0f} µs  off {statistics.median(off):5.0f} µs  "
              f"off − on: median {statistics.median(diffs):+.0f} µs, {sum(d > 0 for d in diffs)}/{pairs} pairs "
              f"dearer off  (on {on}, off {off})", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0] if args else "intake", int(args[1]) if len(args) > 1 else 5000,
         int(args[2]) if len(args) > 2 else 5,
         tuple(args[3].split(",")) if len(args) > 3 else CPU_HOOKS)
