"""Benchmark `zypper lifecycle --days 365` on 3,000 installed packages and 30,000 data lines."""

# Usage: .venv/bin/python bench/lifecycle_bench.py   (make bench runs it)
#
# A root with 3,000 installed packages (one rpmbuild of a spec with 3,000 sub-packages, installed
# with rpm --justdb into the root's own database), a base product, and a lifecycle file of 30,000
# lines shaped like SUSE's data: 10 regular expressions and 140 wildcards first, then exact names,
# a quarter of them not installed, a handful of distinct dates (so many rows share one). Timed,
# interleaved, medians of KLP_BENCH_REPEAT (default 5) runs: our zypper-lifecycle against
# `rpm -qa` over the same root (the cost of merely listing the packages). Target: ratio <= 4.
# stdout: one "BENCH {json}" line; progress on stderr.

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PACKAGES = 3000
LINES = 30000
REGEXPS, WILDCARDS = 10, 140
TARGET = 4.0


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def data_lines() -> list:
    """The lifecycle file: regexps, wildcards, then exact names (4,000 names for 3,000 packages)."""
    dates = [f"{2026 + i % 4}-{1 + i % 12:02d}-{1 + (i * 7) % 28:02d}" for i in range(12)]
    lines = ["# synthetic lifecycle data: name, version, date[, successor]"]
    for i in range(REGEXPS):
        lines.append(f"/^pkg-{i}9[0-9]{{2}}$/, 1.*, {dates[i % 12]}")
    for i in range(WILDCARDS):
        lines.append(f"pkg-{i * 2:03d}*, *, {dates[i % 12]}")
    exact = LINES - 1 - REGEXPS - WILDCARDS
    names = PACKAGES * 4 // 3  # a quarter of the names are not installed
    for i in range(exact):
        lines.append(f"pkg-{(i * 7919) % names:04d}, {'*' if i % 3 else '1.0*'}, {dates[i % 12]}")
    return lines


def build_root(work: str) -> str:
    root = f"{work}/root"
    top = f"{work}/rpmbuild"
    os.makedirs(f"{root}/etc/products.d")
    os.makedirs(f"{root}/usr/share/lifecycle/data")
    os.makedirs(top)
    with open(f"{root}/etc/products.d/SLES.prod", "w", encoding="utf-8") as handle:
        handle.write("<product><vendor>SUSE</vendor><name>SLES</name><endoflife>2031-07-31"
                     "</endoflife><summary>SUSE Linux Enterprise Server 15 SP6</summary>"
                     "<codestream><name>SUSE Linux Enterprise Server 15</name>"
                     "<endoflife>2031-07-31</endoflife></codestream></product>\n")
    os.symlink("SLES.prod", f"{root}/etc/products.d/baseproduct")
    spec = ["Name: pkg-0000\nVersion: 1.0\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n"
            "%description\nd\n%files\n"]
    for i in range(1, PACKAGES):
        spec.append(f"%package -n pkg-{i:04d}\nSummary: s\n%description -n pkg-{i:04d}\nd\n"
                    f"%files -n pkg-{i:04d}\n")
    with open(f"{top}/many.spec", "w", encoding="utf-8") as handle:
        handle.write("".join(spec))
    started = time.monotonic()
    subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}",
                    "--define", f"_dbpath {top}/db", f"{top}/many.spec"], check=True,
                   capture_output=True)
    rpms = sorted(os.path.join(f"{top}/RPMS/noarch", f) for f in os.listdir(f"{top}/RPMS/noarch"))
    log(f"built {len(rpms)} packages in {time.monotonic() - started:.0f}s")
    started = time.monotonic()
    subprocess.run(["rpm", "--force-debian", "--root", root, "--dbpath", "/var/lib/rpm", "-i",
                    "--justdb", "--nodeps", "--noscripts", *rpms], check=True, capture_output=True)
    log(f"installed them into the root's database in {time.monotonic() - started:.0f}s")
    with open(f"{root}/usr/share/lifecycle/data/SLES.lifecycle", "w", encoding="utf-8") as handle:
        handle.write("\n".join(data_lines()) + "\n")
    return root


def main() -> int:
    repeat = int(os.environ.get("KLP_BENCH_REPEAT", "5"))
    bindir = os.path.dirname(sys.executable)
    with tempfile.TemporaryDirectory(prefix="klp-lifecycle-bench.") as work:
        root = build_root(work)
        ours = [os.path.join(bindir, "zypper-lifecycle"), "--root", root, "--days", "365"]
        theirs = ["rpm", "--force-debian", "--root", root, "--dbpath", "/var/lib/rpm", "-qa"]
        check = subprocess.run(ours, capture_output=True, text=True)
        if check.returncode != 0 or "pkg-0000" not in check.stdout:
            log(f"zypper-lifecycle failed ({check.returncode}): {check.stderr[-500:]}")
            return 1
        times: dict = {"ours": [], "rpm": []}
        for i in range(repeat):
            for name, argv in (("ours", ours), ("rpm", theirs)):
                start = time.perf_counter()
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                times[name].append(time.perf_counter() - start)
            log(f"round {i + 1}/{repeat}: zypper lifecycle {times['ours'][-1]:.3f}s, "
                f"rpm -qa {times['rpm'][-1]:.3f}s")
        ours_s, rpm_s = statistics.median(times["ours"]), statistics.median(times["rpm"])
        ratio = ours_s / rpm_s
        print("BENCH " + json.dumps({
            "name": "lifecycle_days_365", "ratio": round(ratio, 2),
            "baseline": "rpm -qa over the same root", "target": f"ratio <= {TARGET}",
            "met": ratio <= TARGET, "seconds": round(ours_s, 3), "baseline_seconds": round(rpm_s, 3),
            "packages": PACKAGES, "lines": LINES, "repeat": repeat,
            "report_lines": check.stdout.count("\n")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
