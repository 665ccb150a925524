"""``klp metrics``: the live patching state as Prometheus metrics (scraped every minute: cheap)."""

from __future__ import annotations

from ..options import FLAG, VALUE, Option
from .common import EXIT_OK, EXIT_USAGE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console


def _directory(value: str, option: str) -> str:
    if not value:
        raise ValueError(f"{option} needs a directory")
    return value


NAME = "metrics"
SYNOPSIS = "metrics [--textfile DIR | --refresh]"
SUMMARY = ("Prometheus metrics on stdout, or written atomically into DIR/klp.prom;\n"
           "--refresh writes the file set in /etc/sysconfig/livepatching (the timer)")
OPTIONS = (
    Option(("--textfile",), "textfile", VALUE, convert=_directory),
    Option(("--refresh",), "refresh", FLAG),
)


def run(opts: Values, console: Console) -> int:
    import time

    from ...services import metrics
    from ...wiring import open_kernel, open_rpmdb

    if opts.textfile and opts.refresh:
        console.err(f"{console.prog}: --textfile and --refresh exclude each other")
        return EXIT_USAGE
    kernel = open_kernel(opts.root)
    now = int(time.time())
    if opts.refresh:
        metrics.refresh(kernel, lambda: open_rpmdb(opts.root), now)
        return EXIT_OK
    text = metrics.exposition(metrics.observe(kernel, lambda: open_rpmdb(opts.root), now))
    if opts.textfile:
        metrics.write_textfile(opts.textfile, text)
    else:
        console.out(text)
    return EXIT_OK
