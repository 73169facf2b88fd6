"""Counting the Python lines a call runs: a bound on work that holds however busy the machine is.

A wall-clock bound ("refused within 2 s") fails on a loaded CI machine and lets a slow
algorithm pass on a fast one. The number of Python lines a call executes is the same on
both, and a loop over every byte, cell or nesting level of a hostile input shows in it.
Work done inside one C call (a regex, a slice, ``str * n``) counts as one line however
large it is: bound that by what the test checks (the refusal, memory), not by this.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class OverBudget(AssertionError):
    """Raised inside the counted code at its first line past the budget: a runaway loop stops there."""


class Steps:
    """Python lines run so far, against ``budget``."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.count = 0
        self.over = False

    def on_call(self, frame: FrameType, event: str, arg: Any) -> Any:
        return self.on_line

    def on_line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.count += 1
            if self.count > self.budget:
                self.over = True
                raise OverBudget(f"more than {self.budget:,} Python lines run")
        return self.on_line


@contextmanager
def counted_lines(budget: int) -> Iterator[Steps]:
    """Count the Python lines the block's calls run (in this thread, libraries included) and fail
    past ``budget``: at that line, and again on leaving the block in case the code caught the
    failure and went on."""
    steps = Steps(budget)
    previous = sys.gettrace()
    sys.settrace(steps.on_call)
    try:
        yield steps
    finally:
        sys.settrace(previous)
    assert not steps.over, f"the block ran more than {budget:,} Python lines"
