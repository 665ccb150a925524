"""``kgr poke``: signal the blocking tasks (kernels before 5.x; newer ones do it alone)."""

from __future__ import annotations

from .common import EXIT_OK, require_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "poke"
SYNOPSIS = NAME
SUMMARY = "signal the blocking tasks (kernels before 5.x; newer ones do it alone)"
OPTIONS = ()


def run(opts: Values, console: Console) -> int:
    from ...services import transition
    from ...wiring import open_kernel

    require_root("poke")
    kernel = open_kernel(opts.root)
    patch = transition.transitioning(kernel, console.warn)
    if patch is None:
        return EXIT_OK
    if not transition.signal(kernel, patch.name):
        console.err(f"{console.prog}: this kernel signals blocking tasks by itself; nothing to do")
    return EXIT_OK
