"""The live patch transition model: patches, task patch states, who blocks, overall status."""

from dataclasses import dataclass, field
from typing import Iterable, Optional, Tuple

READY = "ready"
IN_PROGRESS = "in_progress"

# Values of /proc/<pid>/task/<tid>/patch_state.
UNDEFINED = -1
UNPATCHED = 0
PATCHED = 1


@dataclass(frozen=True)
class Patch:
    """One live patch as /sys/kernel/livepatch/<name>/ shows it; None where the kernel lacks a file."""

    name: str
    enabled: Optional[int] = None
    transition: Optional[int] = None
    replace: Optional[int] = None
    stack_order: Optional[int] = None
    objects: Tuple[Tuple[str, Optional[int]], ...] = field(default=())


def transitioning_patch(patches: Iterable[Patch]) -> Optional[Patch]:
    """The patch currently in transition (the kernel allows only one), or None."""
    for patch in patches:
        if patch.transition == 1:
            return patch
    return None


def transition_target(patch: Patch) -> int:
    """The patch_state every task must reach: PATCHED when enabling, UNPATCHED when disabling."""
    return PATCHED if patch.enabled == 1 else UNPATCHED


def is_blocking(state: int, target: int) -> bool:
    """Whether a task with this patch_state still holds up a transition towards ``target``."""
    return state >= 0 and state != target


def natural_key(name: str) -> Tuple[object, ...]:
    """Sort key that orders ``livepatch_2`` before ``livepatch_10``."""
    parts = []
    number = ""
    text = ""
    for char in name:
        if char.isdigit():
            if text:
                parts.append((1, text, 0))
                text = ""
            number += char
        else:
            if number:
                parts.append((0, "", int(number)))
                number = ""
            text += char
    if number:
        parts.append((0, "", int(number)))
    if text:
        parts.append((1, text, 0))
    return tuple(parts)
