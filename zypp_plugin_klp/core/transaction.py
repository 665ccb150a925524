"""libzypp's commit-plugin transaction bodies: which packages a commit installs or erases."""

from __future__ import annotations

from .frames import FrameError
from .names import release_from_package

INSTALL = "+"
ERASE = "-"
MULTIVERSION = "M"


class Step:
    """One TransactionStepList entry; ``stage`` is None before the commit or when skipped.

    A plain class, not a dataclass: the commit plugin imports this in every zypper commit.
    """

    __slots__ = ("type", "name", "version", "release", "arch", "epoch", "stage")

    def __init__(self, type: str, name: str, version: str, release: str, arch: str,  # noqa: A002
                 epoch: int = 0, stage: str | None = None) -> None:
        self.type = type
        self.name = name
        self.version = version
        self.release = release
        self.arch = arch
        self.epoch = epoch
        self.stage = stage

    def __repr__(self) -> str:
        return f"Step({self.type!r}, {self.nvr!r}, {self.arch!r}, stage={self.stage!r})"

    @property
    def nvr(self) -> str:
        """``name-version-release`` as rpm prints it."""
        return f"{self.name}-{self.version}-{self.release}"

    @property
    def kernel(self) -> str | None:
        """The kernel release of a live patch package, None for other packages."""
        return release_from_package(self.name)


LIVEPATCH_PREFIX = b"kernel-livepatch-"


def mentions_livepatch(body: bytes) -> bool:
    """Cheap pre-check: a body that never names a live patch package needs no parsing."""
    return LIVEPATCH_PREFIX in body


def _has_control(field: object) -> bool:
    """rpm never puts control characters in a name, version, release or arch: such a step is
    forged (a newline in it would forge lines in records and ``klp log``)."""
    return isinstance(field, str) and any(ord(c) < 0x20 or ord(c) == 0x7f for c in field)


def parse_steps(body: bytes) -> list[Step]:
    """Parse ``{"TransactionStepList": [...]}``; FrameError on anything malformed."""
    import json  # lazy: commits without live patches never get here (see mentions_livepatch)

    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FrameError(f"transaction body is not JSON: {str(exc)[:80]}") from None
    steps = doc.get("TransactionStepList") if isinstance(doc, dict) else None
    if not isinstance(steps, list):
        raise FrameError("transaction body has no TransactionStepList")
    result = []
    for item in steps:
        solvable = item.get("solvable") if isinstance(item, dict) else None
        if not isinstance(solvable, dict):
            raise FrameError("transaction step without a solvable")
        kind, stage = item.get("type"), item.get("stage")
        fields = [solvable.get(k) for k in ("n", "v", "r", "a")]
        epoch = solvable.get("e", 0)
        if kind not in (INSTALL, ERASE, MULTIVERSION) or not all(isinstance(f, str) for f in fields) \
                or stage not in (None, "ok", "err") or isinstance(epoch, bool) \
                or not isinstance(epoch, int) or any(_has_control(f) for f in fields):
            raise FrameError(f"invalid transaction step {json.dumps(item)[:120]}")
        name, version, release, arch = (str(f) for f in fields)
        result.append(Step(str(kind), name, version, release, arch, epoch=epoch, stage=stage))
    return result
