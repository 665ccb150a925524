"""``klp-simkernel``: create and drive a simulated kernel tree (insmod, rmmod, release, time)."""

import argparse
import sys
from typing import List, Optional

EPILOG = """\
examples:
  klp-simkernel create fixtures/scenarios/demo.yaml /tmp/sim
  klp-simkernel load /tmp/sim livepatch-1-1.1.ko
  klp --root /tmp/sim blocking -vv
  klp-simkernel release /tmp/sim 4242        # the task returns from the patched function
  klp-simkernel call /tmp/sim 4245 cmdline_proc_show  # ... and calls into it again
  klp-simkernel advance /tmp/sim 15          # let 15 simulated seconds pass
  klp-simkernel load-target /tmp/sim busymod # patches of busymod apply to it now
  klp-simkernel dmesg /tmp/sim               # what the kernel logged (no timestamps)
  klp-simkernel reboot /tmp/sim              # new boot id, no modules, /tmp/sim/run emptied

exit status: 0 success, 1 the (simulated) kernel refused or the input is bad, 2 usage error.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="klp-simkernel", description="Drive a simulated kernel with live patching.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="materialise a scenario as a sysfs/proc tree")
    create.add_argument("scenario")
    create.add_argument("root")
    for name, helptext, arg in (
        ("load", "load a live patch module file (like insmod)", "module"),
        ("unload", "remove a module (like rmmod; live patch or target module)", "name"),
        ("load-target", "load an ordinary module that live patches may patch", "name"),
        ("disable", "write 0 to a patch's 'enabled'", "patch"),
        ("force", "write 1 to a patch's 'force'", "patch"),
        ("advance", "let simulated seconds pass", "seconds"),
        ("exit", "make a process exit", "pid"),
        ("kmsg", "write a line to the kernel log (like echo TEXT > /dev/kmsg)", "text"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("root")
        cmd.add_argument(arg)
    dyndbg = sub.add_parser("dynamic-debug", help="log the livepatch core's pr_debug lines or not "
                            "(like 'file kernel/livepatch/* +p' in dynamic_debug/control)")
    dyndbg.add_argument("root")
    dyndbg.add_argument("state", choices=("on", "off"))
    call = sub.add_parser("call", help="make a task call into functions and sleep there")
    call.add_argument("root")
    call.add_argument("id", type=int, help="pid or tid")
    call.add_argument("functions", nargs="+", help="outermost first")
    dmesg = sub.add_parser("dmesg", help="print the kernel log, oldest first, without timestamps")
    dmesg.add_argument("root")
    reboot = sub.add_parser(
        "reboot", help="restart the machine: a new boot id, every module unloaded, no transition, "
                       "ROOT/run emptied like a tmpfs (load what the boot loads yourself)")
    reboot.add_argument("root")
    release = sub.add_parser("release", help="let tasks return from patched functions")
    release.add_argument("root")
    release.add_argument("ids", nargs="*", type=int, help="pids or tids (default: all)")
    return parser


def run(argv: List[str]) -> int:
    """Run one command; returns the exit status."""
    from .driver import SimulatedKernel
    from ..errors import KlpError

    args = _parser().parse_args(argv)
    try:
        if args.command == "create":
            SimulatedKernel.from_scenario(args.root, args.scenario)
            return 0
        kernel = SimulatedKernel(args.root)
        if args.command == "load":
            print(f"loaded {kernel.load(args.module)}")
        elif args.command == "load-target":
            kernel.load_target(args.name)
        elif args.command == "unload":
            kernel.unload(args.name)
        elif args.command == "disable":
            kernel.disable(args.patch)
        elif args.command == "force":
            kernel.force(args.patch)
        elif args.command == "advance":
            kernel.advance(float(args.seconds))
        elif args.command == "exit":
            print(f"{kernel.exit(int(args.pid))} threads exited")
        elif args.command == "kmsg":
            kernel.kmsg(args.text)
        elif args.command == "dynamic-debug":
            kernel.set_dynamic_debug(args.state == "on")
        elif args.command == "call":
            print(f"{kernel.call([args.id], args.functions)} threads called in")
        elif args.command == "dmesg":
            sys.stdout.write("".join(line + "\n" for line in kernel.dmesg()))
        elif args.command == "reboot":
            print(f"rebooted: boot id {kernel.reboot()}")
        elif args.command == "release":
            print(f"released {kernel.release(args.ids or None)} threads")
    except (KlpError, ValueError) as exc:
        print(f"klp-simkernel: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point."""
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
