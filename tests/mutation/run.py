"""make mutation: mutmut over the modules that decide things; kill rate of non-equivalent mutants.

Runs mutmut 3 in a scratch copy of the tree (out/mutation/work) so its mutants/ never touch the
worktree, with a fast in-process test selection (mutmut picks, per mutant, the tests that reach the
mutated function). Prints one line per module: killed / (mutants - listed equivalents), and exits 1
when a module is below the goal. Survivors that are equivalent are listed with the reason in
tests/mutation/equivalent.txt (one ``mutant-name  reason`` per line).
"""

import json
import os
import shutil
import subprocess
import sys
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(REPO, "out", "mutation", "work")
GOAL = float(os.environ.get("MUTATION_GOAL", "90"))

#: The modules that decide what users see (MUTATION_MODULES narrows it: space-separated globs).
MODULES = os.environ.get("MUTATION_MODULES", " ".join([
    "zypp_plugin_klp/core/*.py",
    "zypp_plugin_klp/services/*.py",
    "zypp_plugin_klp/hooks.py",
    "zypp_plugin_klp/plugin.py",
])).split()

#: Fast tests that run in-process (subprocess-only tests cannot tell mutmut what they reach).
TESTS = os.environ.get("MUTATION_TESTS", "tests/unit tests/cli tests/drivers").split()

COPY = ("zypp_plugin_klp", "tests", "fixtures", "bin", "rpm-hooks", "specfiles", "man", "dracut",
        "setup.cfg", "pyproject.toml", "README.md", "Makefile", "docs")


def prepare() -> None:
    """A scratch copy of the tree with a [mutmut] section (the worktree's setup.cfg is untouched)."""
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)  # out/mutation too
    for name in COPY:
        source = os.path.join(REPO, name)
        target = os.path.join(WORK, name)
        if os.path.isdir(source):
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif os.path.exists(source):
            shutil.copy2(source, target)
    lines = ["", "[mutmut]", "source_paths = zypp_plugin_klp/", "only_mutate ="]
    lines += [f"    {m}" for m in MODULES]
    lines += ["also_copy =", "    fixtures/", "    bin/", "    rpm-hooks/", "    specfiles/", "    man/",
              "    dracut/", "    docs/", "    README.md", "    Makefile", "pytest_add_cli_args_test_selection ="]
    lines += [f"    {t}" for t in TESTS]
    # The static checks read the source itself (mypy, layering) and the import-cost check counts
    # modules: mutmut's trampolines change both, so the mutated copy cannot pass them; a test
    # that imports a copy of the package outside this venv cannot import mutmut's trampolines.
    lines += ["pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -x", "    -q",
              "    --ignore=tests/unit/test_static.py",
              "    --deselect=tests/cli/test_klp.py::test_status_does_not_import_heavy_modules",
              # runs a copy of the package under the system python as nobody: no mutmut there
              "    --deselect=tests/rpm/test_plugin.py::test_unprivileged_plugin_never_crashes"]
    with open(os.path.join(WORK, "setup.cfg"), "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def equivalents() -> Dict[str, str]:
    """Mutants judged equivalent, each with its reason."""
    listed: Dict[str, str] = {}
    with open(os.path.join(HERE, "equivalent.txt"), encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                listed[name] = reason.strip()
    return listed


def results() -> Dict[str, Dict[str, int]]:
    """Exit code of every mutant, by module file."""
    found: Dict[str, Dict[str, int]] = {}
    top = os.path.join(WORK, "mutants")
    for folder, _, files in os.walk(top):
        for name in files:
            if name.endswith(".py.meta"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as handle:
                    codes = json.load(handle)["exit_code_by_key"]
                found[os.path.relpath(path, top)[:-5]] = codes
    return found


def summarise(found: Dict[str, Dict[str, int]], listed: Dict[str, str]) -> Tuple[List[str], bool]:
    """One line per module and whether every module meets the goal."""
    lines, ok = [], True
    survivors: List[str] = []
    for module in sorted(found):
        codes = found[module]
        counted = {k: v for k, v in codes.items() if k not in listed}
        killed = sum(1 for v in counted.values() if v in (1, 3) or v in (36, 24, -24, 152, 255))
        total = len(counted)
        rate = 100.0 * killed / total if total else 100.0
        ok = ok and rate >= GOAL
        lines.append(f"{module:45s} {killed:4d}/{total:<4d} killed {rate:5.1f}%"
                     f"  ({len(codes) - total} equivalent)")
        survivors += [k for k, v in counted.items() if not (v in (1, 3) or v in (36, 24, -24, 152, 255))]
    all_codes = [v for codes in found.values() for k, v in codes.items() if k not in listed]
    killed = sum(1 for v in all_codes if v in (1, 3, 36, 24, -24, 152, 255))
    lines.append(f"{'total':45s} {killed:4d}/{len(all_codes):<4d} killed "
                 f"{100.0 * killed / max(1, len(all_codes)):5.1f}%")
    with open(os.path.join(REPO, "out", "mutation", "survivors.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(sorted(survivors)) + "\n")
    return lines, ok


#: Where the product keeps state inside a root. A mutant can turn a test's temporary root into
#: "/" (``root or "/"`` mutated, say): run as root, mutmut gets a private mount namespace with
#: these on tmpfs, so no mutant writes the host's flags, lock, records or logs.
SHIELDED = ("/run", "/var/lib", "/var/log")


def mutmut_command(mutmut: str) -> List[str]:
    """``mutmut run``, shielded from the host's state when run as root."""
    run = ["nice", "-n", "10", mutmut, "run"]
    if os.geteuid() != 0:
        return run  # an unprivileged mutant cannot write the host's state anyway
    return ["unshare", "--mount", "--propagation", "private", "--", sys.executable,
            os.path.abspath(__file__), "--shielded", *run]


def shielded(argv: List[str]) -> int:
    """Inside the private mount namespace: tmpfs over SHIELDED, then run ``argv``."""
    for path in SHIELDED:
        subprocess.run(["mount", "-t", "tmpfs", "klp-mutation", path], check=True)
    os.execvp(argv[0], argv)


def main() -> int:
    if sys.argv[1:2] == ["--shielded"]:
        return shielded(sys.argv[2:])
    if "--report" not in sys.argv:
        prepare()
        # Only in-process calls count: mutmut maps each mutant to the tests that reached it while
        # it traced them, and a subprocess (klp, klp-hook) runs the unmutated installed tree.
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env["KLP_TESTS_IN_PROCESS"] = "1"  # tests/conftest.py: klp through cli.klp.run, in-process
        mutmut = os.path.join(os.path.dirname(sys.executable), "mutmut")
        with open(os.path.join(REPO, "out", "mutation", "mutmut.log"), "wb") as log:
            run = subprocess.run(mutmut_command(mutmut), cwd=WORK, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
        if run.returncode != 0:
            print(f"mutation: mutmut run exited {run.returncode}; see out/mutation/mutmut.log",
                  file=sys.stderr)
            return run.returncode
    lines, ok = summarise(results(), equivalents())
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(REPO, "out", "mutation", "summary.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    print(f"survivors (not killed, not listed as equivalent): out/mutation/survivors.txt; goal {GOAL:.0f}%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
