"""atheris (libFuzzer) targets for every parser of outside input; run by ``make fuzz``.

Usage: python tests/fuzz/fuzz_parsers.py TARGET [libFuzzer options, e.g. -max_total_time=60]
A finding is any exception other than the product's own error types, a hang, or a crash.
"""

import sys

import atheris

with atheris.instrument_imports():
    from zypp_plugin_klp.core import changelog, elfmod, lifecycle, sysconfig
    from zypp_plugin_klp.core import kernel_text as kvalues
    from zypp_plugin_klp.core.frames import FrameError, FrameReader
    from zypp_plugin_klp.sim.scenario import parse_scenario
    from zypp_plugin_klp.core.transaction import parse_steps
    from zypp_plugin_klp.errors import ScenarioError


def frames(data: bytes) -> None:
    reader = FrameReader(limit=1 << 16)
    try:
        for frame in reader.feed(data):
            if frame.command.startswith("COMMIT"):
                parse_steps(frame.body)
        reader.close()
    except FrameError:
        pass


def transaction(data: bytes) -> None:
    try:
        parse_steps(data)
    except FrameError:
        pass


def modinfo(data: bytes) -> None:
    try:
        elfmod.livepatch_functions(elfmod.parse_module(data))
    except elfmod.ModuleFormatError:
        pass


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def lifecycle_csv(data: bytes) -> None:
    rules, _errors = lifecycle.parse_lifecycle(_text(data), "fuzz")
    lifecycle.apply_rules(rules, {"a": [lifecycle.Package("a", "1-1", "x86_64")]},
                          [("b", "2-1", "x86_64")], 0, lambda x, y: x > y)


def product(data: bytes) -> None:
    try:
        lifecycle.parse_product(_text(data))
    except ValueError:
        pass


def scenario(data: bytes) -> None:
    try:
        parse_scenario(_text(data), "fuzz.yaml")
    except ScenarioError:
        pass


def kernel_values(data: bytes) -> None:
    kvalues.parse_int(data)
    kvalues.parse_cmdline(data)
    for frame in kvalues.parse_stack(_text(data)):
        kvalues.frame_function(frame)


def texts(data: bytes) -> None:
    sysconfig.livepatch_mode(sysconfig.parse_sysconfig(_text(data)))
    changelog.references([_text(data)])


TARGETS = {f.__name__: f for f in (frames, transaction, modinfo, lifecycle_csv, product, scenario,
                                   kernel_values, texts)}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: fuzz_parsers.py {{{','.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
