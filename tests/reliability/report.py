"""``make reliability``: one BENCH-style summary line per area, from real runs.

faults: every case of the fault matrix; fuzz: random and mutated inputs for every parser (only
the product's own error types may escape); tamper: altered module files that must be refused;
races: parallel %posttrans hooks that must load once and leave whole state files; attacks: every
test that performs an attack of the security review (issue 15; its docstring or comments name
the finding), run for real, each passing test an attack tried and refused.
"""

import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from tests.reliability import matrix  # noqa: E402

from zypp_plugin_klp.core import changelog, elfmod, frames, lifecycle, sysconfig  # noqa: E402
from zypp_plugin_klp.core import kernel_text as kvalues  # noqa: E402
from zypp_plugin_klp.sim.scenario import parse_scenario  # noqa: E402
from zypp_plugin_klp.core.transaction import parse_steps  # noqa: E402
from zypp_plugin_klp.errors import KlpError  # noqa: E402


def line(area: str, **counts: object) -> None:
    print("BENCH " + json.dumps({"name": f"reliability_{area}", **counts}), flush=True)


def faults(work: str) -> None:
    rpms = matrix.build_rpms(work)
    cases = matrix.cases()
    lost = {}
    for name, action in cases.items():
        problems = matrix.run_case(name, action, work, rpms)
        if problems:
            lost[name] = problems
    line("faults", injected=len(cases), survived=len(cases) - len(lost), lost=len(lost),
         target="lost == 0", met=not lost, details=lost)


def _parsers():
    seed_ko = open(os.path.join(REPO, "fixtures", "frames", "zypper-1.14.42-install.log"), "rb").read()
    sys.path.insert(0, os.path.join(REPO, "fixtures"))
    import kobuild

    module = kobuild.build_module("livepatch_1_1_1", functions=["livepatch_cmdline_proc_show"])
    texts = "kernel: {release: r}\nprocesses:\n  - {pid: 1, comm: a}\n"

    def frames_(data):
        reader = frames.FrameReader(limit=1 << 16)
        for frame in reader.feed(data):
            if frame.command.startswith("COMMIT"):
                parse_steps(frame.body)
        reader.close()

    return [
        ("frames", seed_ko.replace(b"\n=====\n", b"\0"), frames_, (frames.FrameError,)),
        ("modinfo", module, lambda d: elfmod.parse_module(d), (elfmod.ModuleFormatError,)),
        ("lifecycle", b"a*, 1.*, 2027-01-01, b<1>\n/^x$/, *, 2026-01-01\n",
         lambda d: lifecycle.parse_lifecycle(d.decode("utf-8", "replace"), "f"), ()),
        ("scenario", texts.encode(), lambda d: parse_scenario(d.decode("utf-8", "replace")), (KlpError,)),
        ("product", b"<product><name>x</name><endoflife>2027-01-01</endoflife></product>",
         lambda d: lifecycle.parse_product(d.decode("utf-8", "replace")), (ValueError,)),
        ("kernel values", b"[<0>] f+0x1/0x2 [m]\n1\n", lambda d: (kvalues.parse_int(d),
                                                                 kvalues.parse_stack(d.decode("latin-1"))), ()),
        ("texts", b'LIVEPATCH_KERNEL="never"\nCVE-2024-1086 bsc#1\n',
         lambda d: (sysconfig.parse_sysconfig(d.decode("latin-1")),
                    changelog.references([d.decode("latin-1")])), ()),
    ]


def fuzz(per_parser: int = 3000) -> None:
    rng = random.Random(1125)
    inputs = failures = 0
    examples = []
    for name, seed, parse, allowed in _parsers():
        for _ in range(per_parser):
            data = bytearray(seed)
            for _ in range(rng.randint(1, 8)):
                if data and rng.random() < 0.7:
                    data[rng.randrange(len(data))] = rng.randrange(256)
                else:
                    data[rng.randrange(len(data) + 1):] = bytes(rng.randrange(256) for _ in range(4))
            inputs += 1
            try:
                parse(bytes(data))
            except allowed:
                pass
            except Exception as exc:  # noqa: BLE001 - exactly what is being counted
                failures += 1
                examples.append(f"{name}: {type(exc).__name__}: {exc}"[:160])
    line("fuzz", inputs=inputs, failures=failures, target="failures == 0", met=failures == 0,
         examples=examples[:5])


def tamper(work: str) -> None:
    rpms = matrix.build_rpms(os.path.join(work, "tamper-rpms"))
    mutations = {
        "appended bytes": lambda p: open(p, "ab").write(b"\0evil"),
        "world-writable": lambda p: os.chmod(p, 0o666),
        "not owned by root": lambda p: os.chown(p, 1000, 0),
        "replaced by a symlink": lambda p: (os.rename(p, p + ".orig"), os.symlink(p + ".orig", p)),
        "replaced by another module": lambda p: matrix.kobuild.write_module(
            p, "livepatch_666_1_1", vermagic=matrix.VERMAGIC, functions=["livepatch_cmdline_proc_show"]),
    }
    refused = 0
    for name, mutate in mutations.items():
        base = os.path.join(work, "tamper-" + name.replace(" ", "_"))
        os.makedirs(base)
        root = matrix.Root(base, rpms)
        matrix._install(root, "1")
        mutate(os.path.join(root.root, "lib/modules", matrix.RELEASE, "livepatch/livepatch-1-1.1.ko"))
        root.run_hook("posttrans", matrix.PKG, "1-1.1")
        if not os.listdir(os.path.join(root.root, "sys/kernel/livepatch")) and \
                os.path.exists(os.path.join(root.root, "var/log/klp-audit.log")):
            refused += 1
        shutil.rmtree(base, ignore_errors=True)
    line("tamper", cases=len(mutations), refused=refused, target="refused == cases",
         met=refused == len(mutations))


def races(work: str, rounds: int = 10) -> None:
    rpms = matrix.build_rpms(os.path.join(work, "race-rpms"))
    corruptions = 0
    for i in range(rounds):
        base = os.path.join(work, f"race-{i}")
        os.makedirs(base)
        root = matrix.Root(base, rpms)
        matrix._install(root, "1")
        procs = [root.hook("posttrans", matrix.PKG, "1-1.1") for _ in range(3)]
        for proc in procs:
            proc.communicate(timeout=60)
        if root.check("livepatch_1_1_1") or any(p.returncode for p in procs):
            corruptions += 1
        shutil.rmtree(base, ignore_errors=True)
    line("races", runs=rounds, parallel=3, corruptions=corruptions, target="corruptions == 0",
         met=corruptions == 0)


ATTACK = re.compile(r"[Ii]ssue 15(?:, findings?|\.) ?(\d+)")


def attack_tests() -> dict:
    """{pytest node id: [finding numbers]} for every test function naming an issue 15 finding
    (in its source, or in its module's docstring for every test of the module)."""
    found = {}
    tests = os.path.join(REPO, "tests")
    for directory, _, files in sorted(os.walk(tests)):
        for name in sorted(f for f in files if f.startswith("test_") and f.endswith(".py")):
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as handle:
                source = handle.read()
            tree = ast.parse(source)
            whole = {int(n) for n in ATTACK.findall(ast.get_docstring(tree) or "")}
            lines = source.splitlines()
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    text = ast.get_source_segment(source, node) or ""
                    numbers = sorted(whole | {int(n) for n in ATTACK.findall(text)}
                                     | _section(lines, node.lineno))
                    if numbers:
                        found[f"{os.path.relpath(path, REPO)}::{node.name}"] = numbers
    return found


def _section(lines: list, lineno: int) -> set:
    """Findings named by the top-level comment block that opens the section holding line
    ``lineno`` (the nearest comment line at column 0 above it)."""
    above = lines[:lineno - 1]
    ends = [i for i, line in enumerate(above) if line.startswith("#")]
    if not ends:
        return set()
    start = ends[-1]
    while start > 0 and above[start - 1].startswith("#"):
        start -= 1
    return {int(n) for n in ATTACK.findall(" ".join(above[start:ends[-1] + 1]))}


def attacks(work: str) -> None:
    import xml.etree.ElementTree as ET

    found = attack_tests()
    report = os.path.join(work, "attacks.xml")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--junitxml={report}", *found], cwd=REPO, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    tried = refused = 0
    findings: dict = {}
    for case in ET.parse(report).iter("testcase"):
        node = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name', '')}"
        numbers = found.get(node.split("[")[0], [])
        outcome = [c.tag for c in case]
        if "skipped" in outcome:
            continue
        tried += 1
        ok = not {"failure", "error"} & set(outcome)
        refused += ok
        for n in numbers:
            entry = findings.setdefault(str(n), {"tried": 0, "refused": 0})
            entry["tried"] += 1
            entry["refused"] += ok
    line("attacks", tried=tried, refused=refused, findings=dict(sorted(findings.items(),
         key=lambda kv: int(kv[0]))), target="refused == tried", met=tried > 0 and refused == tried)


def main() -> int:
    work = tempfile.mkdtemp(prefix="klp-reliability.")
    try:
        faults(os.path.join(work, "faults"))
        fuzz()
        tamper(work)
        races(work)
        attacks(work)
        return 0
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
