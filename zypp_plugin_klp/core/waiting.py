"""How waiting for a live patch transition ends (the wait policy's values)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WaitResult:
    """How waiting for a transition ended."""

    completed: bool
    patch: str | None
    elapsed: float
