"""`pn up` keeps its services running: a child that exits is restarted after a growing pause.

Each exit doubles the service's pause (1 s, 2 s, 4 s ... at most 60 s), so a service that fails
at once (a bad setting, a broken rules file) does not spin; one that stays up for a minute
starts again from 1 s. Every exit and restart is said on the terminal, with the log to read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 60.0
STABLE_AFTER_S = 60.0


@dataclass
class _State:
    pause_s: float = FIRST_PAUSE_S
    restart_at: float | None = None
    started_at: float = 0.0
    restarts: int = 0


class Restarter:
    """Call `check()` often (the `pn up` loop): it notices dead children and restarts them."""

    def __init__(self, stack: Any, *, say: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.stack, self.say, self.clock = stack, say, clock
        now = clock()
        self.states = {name: _State(started_at=now) for name in stack.processes}

    def check(self) -> None:
        now = self.clock()
        for name, proc in list(self.stack.processes.items()):
            state = self.states.setdefault(name, _State(started_at=now))
            if proc.alive():
                if state.restart_at is None and now - state.started_at >= STABLE_AFTER_S:
                    state.pause_s = FIRST_PAUSE_S
                continue
            if state.restart_at is None:
                code = proc.proc.returncode if getattr(proc, "proc", None) is not None else None
                state.restart_at = now + state.pause_s
                self.say(f"{name} exited (code {code}); restarting in {state.pause_s:.0f} s; see {proc.log_path}")
                continue
            if now >= state.restart_at:
                self.stack.respawn(name)
                state.restarts += 1
                state.started_at, state.restart_at = now, None
                state.pause_s = min(state.pause_s * 2, MAX_PAUSE_S)
                self.say(f"{name} restarted (restart {state.restarts})")
