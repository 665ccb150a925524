"""Command-line options declared once and parsed the same way by every CLI (small, import-light)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence
    from typing import Any

FLAG = "flag"      # sets True
COUNT = "count"    # adds one per use (-vv)
VALUE = "value"    # takes the next word (or --name=value), checked by ``convert``
HELP = "help"      # stops parsing: the command becomes ``dest`` (help, version)


class Option:
    """One option: its spellings (``-n``, ``--dry-run``), where it goes, and how it is read."""

    __slots__ = ("names", "dest", "kind", "default", "convert")

    def __init__(self, names: tuple[str, ...], dest: str, kind: str = FLAG, default: Any = None,
                 convert: Callable[[str, str], Any] | None = None) -> None:
        self.names = names
        self.dest = dest
        self.kind = kind
        self.default = (0 if kind == COUNT else False if kind == FLAG else None) \
            if default is None else default
        self.convert = convert


class Values:
    """The parsed command line: ``command`` plus one attribute per option's ``dest``."""

    def __init__(self, options: Sequence[Option]) -> None:
        self.command = ""
        self.arguments: list[str] = []  # operands, for commands that take them
        for option in options:
            setattr(self, option.dest, option.default)

    def __getattr__(self, name: str) -> Any:
        """Only for options that were never declared (typed ``Any`` for the commands)."""
        raise AttributeError(f"no option {name!r}")


def seconds(value: str, option: str) -> float:
    """A finite, non-negative number of seconds."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"{option} needs a number of seconds, not {value!r}")
    return number


def parse(argv: Sequence[str], global_options: Sequence[Option], commands: Collection[str],
          command_options: Callable[[str], Sequence[Option]],
          elsewhere: Callable[[str], bool],
          takes_arguments: Callable[[str], bool] = lambda _name: False) -> Values:
    """Parse ``argv``: global options anywhere, then the command, then its own options.

    ``command_options(name)`` gives a command's options; ``elsewhere(option)`` tells whether
    some other command has that option (then the message says it does not apply here);
    ``takes_arguments(name)`` whether a command takes operands (into ``arguments``).

    Raises:
        ValueError: with the message to print for a usage error.
    """
    table = {name: o for o in global_options for name in o.names}
    values = Values(global_options)
    args = list(argv)
    while args:
        arg = args.pop(0)
        value = None
        if arg.startswith("--") and "=" in arg:
            arg, value = arg.split("=", 1)
        if arg.startswith("--") or (arg.startswith("-") and len(arg) == 2 and arg in table):
            spelled = [arg]
        elif arg.startswith("-") and len(arg) > 1:
            spelled = ["-" + flag for flag in arg[1:]]
        else:
            spelled = []
        for name in spelled:
            option = table.get(name)
            if option is None:
                if name.startswith("--") and value is not None:
                    raise ValueError(f"option {name} takes no value")
                if elsewhere(name):
                    raise ValueError(f"option {name} does not apply to {values.command!r}"
                                     if values.command else f"option {name} must follow its command")
                raise ValueError(f"unknown option {name}")
            if option.kind == VALUE:
                if value is None:
                    if not args:
                        raise ValueError(f"{name} needs a value")
                    value = args.pop(0)
                setattr(values, option.dest, option.convert(value, name) if option.convert else value)
            elif value is not None:
                raise ValueError(f"option {name} takes no value")
            elif option.kind == HELP:
                setattr(values, "topic", values.command)  # ``klp downgrade --help``
                values.command = option.dest
                return values
            elif option.kind == COUNT:
                setattr(values, option.dest, getattr(values, option.dest) + 1)
            else:
                setattr(values, option.dest, True)
        if spelled:
            continue
        if values.command == "help" and not getattr(values, "topic", ""):
            if arg not in commands:
                raise ValueError(f"unknown command {arg!r}")
            setattr(values, "topic", arg)  # ``klp help downgrade``
            continue
        if not values.command:
            if arg == "help":
                values.command = "help"
                setattr(values, "topic", "")
                continue
            if arg not in commands:
                raise ValueError(f"unknown command {arg!r}")
            values.command = arg
            for option in command_options(arg):
                setattr(values, option.dest, option.default)
                table.update({name: option for name in option.names})
        elif takes_arguments(values.command):
            values.arguments.append(arg)
        else:
            raise ValueError(f"unexpected argument {arg!r}")
    if not values.command:
        raise ValueError("no command given")
    return values
