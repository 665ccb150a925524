"""``zypper lifecycle`` (``/usr/lib/zypper/commands/zypper-lifecycle``): support end dates of the
installed products and packages, live patches included, read directly (no zypper subprocess).

Exit codes: 0 report printed; 1 a queried package is not installed, or the report is empty;
2 other errors (bad options, unreadable or malformed data: the rest is still reported).
"""

import argparse
import datetime as dt
import sys
import time
from typing import Dict, List, Optional, Set, Tuple

EXIT_OK, EXIT_EMPTY, EXIT_ERROR = 0, 1, 2
DAYS_RANGE = (-20_000, 2_000_000)  # --days: dates within 1970..9999 from any year before 2030

EPILOG = """\
Dates are in UTC. Data: /etc/products.d/*.prod and <product>.lifecycle files in
/var/lib/lifecycle/data, /usr/lib/lifecycle/data and /usr/share/lifecycle/data.
exit status: 0 ok, 1 a queried package is not installed or the report is empty, 2 other errors.
See zypper-lifecycle(8).
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"zypper lifecycle: {message}\nTry 'zypper lifecycle --help'.\n")
        sys.exit(EXIT_ERROR)


def _date(text: str) -> int:
    from ..core.lifecycle import parse_date

    try:
        return parse_date(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r} (expected YYYY-MM-DD)") from None


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not DAYS_RANGE[0] <= days <= DAYS_RANGE[1]:
        low, high = DAYS_RANGE
        raise argparse.ArgumentTypeError(f"{days} is out of range ({low} to {high})")
    return days


def parser() -> argparse.ArgumentParser:
    """The command line (SUSE's options plus --root and --json)."""
    p = _Parser(prog="zypper lifecycle", description="Show the end of support of installed "
                "products and packages, live patches included.", epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action=argparse.BooleanOptionalAction, default=False,
                   help="say which data files are read")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--days", type=_days, metavar="N", help="what ends within N days from now")
    when.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="what ends before this date")
    p.add_argument("--save", metavar="FILE", help="save the report (XML) for a later --diff")
    p.add_argument("--diff", metavar="FILE", help="report only what changed since a saved report")
    p.add_argument("--root", default="/", metavar="DIR", help="operate on the system in DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("packages", nargs="*", metavar="PACKAGE",
                   help="report these packages only (ignored with --days or --date, as SUSE's)")
    return p


def run(argv: List[str], now: Optional[int] = None) -> int:
    """Run the command; returns the exit status."""
    from ..core import lifecycle_report as out
    from ..drivers.lifecycle_files import read_text, repository_files
    from ..errors import KlpError
    from ..services.lifecycle import gather
    from ..wiring import open_resolver, open_rpmdb

    args = parser().parse_args(argv)
    now = int(time.time()) if now is None else now
    say = sys.stdout.write

    def verbose(line: str) -> None:
        if args.verbose:
            say(line + "\n")

    # libsolv only where something can be updated
    resolver = open_resolver(args.root) if repository_files(args.root) else None
    try:
        data = gather(args.root, open_rpmdb(args.root), resolver, now, verbose)
    except KlpError as exc:
        sys.stderr.write(f"zypper lifecycle: {exc}\n")
        return EXIT_ERROR
    for warning in data.warnings:
        sys.stderr.write(f"zypper lifecycle: {warning}\n")
    status = EXIT_ERROR if data.errors else EXIT_OK
    for error in data.errors:
        sys.stderr.write(error + "\n")
    installed = data.packages
    if args.packages and args.days is None and args.date is None:
        text, missing = out.packages_report(args.packages, installed)
        say(text)
        return status or (EXIT_EMPTY if missing else EXIT_OK)
    since: Optional[str] = None
    seen_products: Dict[str, int] = {}
    seen_packages: Set[Tuple[str, str, int]] = set()
    if args.diff:
        try:
            since, seen_products, seen_packages = out.load_saved(read_text(args.diff))
        except FileNotFoundError as exc:
            verbose(exc.strerror or str(exc))
        except OSError as exc:
            sys.stderr.write(f"zypper lifecycle: {args.diff}: {exc.strerror or exc}\n")
            return EXIT_ERROR
        except ValueError as exc:
            sys.stderr.write(f"zypper lifecycle: {args.diff}: {exc}\n")
            return EXIT_ERROR
    everything = [p for plist in installed.values() for p in plist]
    deadline = None
    if args.days is not None or args.date is not None:
        deadline = args.date if args.date is not None else now + args.days * 86400
        products = [p for p in data.products if p.eol <= deadline or p.codestream_eol <= deadline]
        due = [p for p in everything if p.eol <= deadline]
        packages = [p for p in due if p.differs]
    else:
        products, due, packages = data.products, [], [p for p in everything if p.differs]
    new_products = [p for p in products if seen_products.get(p.name) != p.eol]
    new_packages = [p for p in packages if (p.name, p.edition, p.eol) not in seen_packages]
    date_text = dt.datetime.fromtimestamp(deadline, dt.timezone.utc).strftime("%Y-%m-%d") \
        if deadline is not None else None
    if args.json:
        say(out.report_json(new_products, new_packages, data.errors, date_text))
        empty = not new_products and not new_packages
    elif deadline is not None:
        text, empty = out.deadline(new_products, new_packages, bool(due), date_text or "", since)
        say(text)
    else:
        text, empty = out.report(new_products, new_packages, since)
        say(text)
    if args.save:
        from ..drivers.host import HostFileError, write_user_file

        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")
        try:
            write_user_file(args.save, out.save_xml(products, packages, stamp).encode())
        except HostFileError as exc:
            sys.stderr.write(f"zypper lifecycle: --save: {exc}\n")
            return EXIT_ERROR
    return status or (EXIT_EMPTY if empty else EXIT_OK)


def main() -> int:
    """Entry point of zypper-lifecycle."""
    try:
        return run(sys.argv[1:])
    except BrokenPipeError:
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
