"""The product's exception hierarchy: every expected failure is a KlpError with one clear line."""


class KlpError(Exception):
    """Base of every error the product reports to a user as one line (never a traceback)."""


class UsageError(KlpError):
    """The command line is wrong."""


class PermissionDeniedError(KlpError):
    """A mutating command was run without root privileges."""


class KernelError(KlpError):
    """The kernel (real or simulated) refused an operation.

    Attributes:
        errno: the errno the kernel returned, 0 when not applicable.
    """

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


class ScenarioError(KlpError):
    """A simulated-kernel scenario file is malformed (the message names file and line)."""


class TransitionTimeoutError(KlpError):
    """A live patch transition did not finish within the allowed time."""
