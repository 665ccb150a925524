"""Benchmark the commit plugin's cost inside `zypper in` and the resolver against `zypper se -s`."""

# Usage: .venv/bin/python bench/zypper_bench.py   (make bench runs it after bench/run.py)
#
# 1. plugin_overhead(_other): in one mock root (real zypper chrooted, so libzypp runs commit
#    plugins), `zypper in` of a live patch package built from our template (hooks included), and of
#    an ordinary package, each timed with our commit plugin installed and with it moved away,
#    interleaved; each run is undone with `rpm -e` so every install does the same work.
# 2. resolver_vs_zypper: a repository of 20,000 live patch packages (1,000 kernels x 20 versions;
#    rpm-md metadata written directly, zypper refreshes it into its solv cache) and the question
#    "newest live patch for the running kernel", answered by `klp`'s resolver (libsolv on zypp's
#    cache, a fresh process) and by parsing `zypper se -s` output (a fresh process too).
# stdout: one "BENCH {json}" line each; progress on stderr. KLP_BENCH_REPEAT (default 5) runs
# each; medians are reported. Exit 0 when measured (targets may be missed), 1 on errors.

import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(PROJECT, "fixtures"))
sys.dont_write_bytecode = True

import kobuild  # noqa: E402

from zypp_plugin_klp.testing import packages  # noqa: E402
from zypp_plugin_klp.testing.mockroot import MockRoot, missing_capabilities  # noqa: E402

RELEASE = "6.1.0-26-default"
PKG = "kernel-livepatch-6_1_0-26-default"
KERNELS = 1000
VERSIONS = 20
PLUGIN = "lib/zypp/plugins/commit/zypp-plugin-klp"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def product_rpm(work: str) -> str:
    subprocess.run(["make", "--no-print-directory", "-C", PROJECT, "rpm", f"RPMTOP={work}/product"],
                   check=True, capture_output=True)
    (rpm,) = [os.path.join(d, f) for d, _, fs in os.walk(f"{work}/product/RPMS") for f in fs
              if f[len("zypp-plugin-klp-"):][:1].isdigit()]  # not the -salt/-ansible subpackages
    return rpm


def hello_rpm(work: str) -> str:
    """An ordinary package (not a live patch): the common case of a zypper commit."""
    top = f"{work}/hello"
    os.makedirs(top)
    with open(f"{top}/hello.spec", "w", encoding="utf-8") as handle:
        handle.write("Name: hello-klp-bench\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\n"
                     "BuildArch: noarch\n%description\nd\n%install\nmkdir -p %{buildroot}/opt\n"
                     "echo hi > %{buildroot}/opt/hello\n%files\n/opt/hello\n")
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", f"_dbpath {top}/db",
                    f"{top}/hello.spec"], check=True, capture_output=True)
    return f"{top}/RPMS/noarch/hello-klp-bench-1-1.noarch.rpm"


def plugin_overhead(work: str, repeat: int) -> list:
    mock = MockRoot(f"{work}/plugin").create(product_rpm(work))
    mock.kernel.exit(4242)  # nothing holds the transition: measure the plugin, not a wait
    ko = kobuild.write_module(f"{work}/lp.ko", "livepatch_1_1_1",
                              vermagic=f"{RELEASE} SMP preempt mod_unload modversions",
                              functions=["livepatch_cmdline_proc_show"])
    mock.publish(packages.build_from_template(  # a real live patch package: with our hooks
        work, ko, RELEASE, "1", "- Initial kernel live patch",
        f"{PROJECT}/specfiles/kernel-livepatch.spec", f"{PROJECT}/rpm-hooks/macros.klp"),
        hello_rpm(work))
    plugin, parked = os.path.join(mock.upper, PLUGIN), os.path.join(mock.base, "parked-plugin")
    results = []
    for name, package, what in (("plugin_overhead", PKG, "a live patch package"),
                                ("plugin_overhead_other", "hello-klp-bench", "an ordinary package")):
        def install() -> None:
            r = mock.chroot("zypper", "--non-interactive", "--no-gpg-checks", "in", package)
            if r.returncode != 0:
                raise RuntimeError(f"zypper in failed: {r.stdout}{r.stderr}")
            mock.rpm("-e", "--noscripts", package, check=True)

        times: dict = {"with": [], "without": []}
        for variant in ("with", "without"):  # warm-up
            _place(plugin, parked, variant == "with")
            install()
        for i in range(repeat):
            for variant in (("with", "without") if i % 2 == 0 else ("without", "with")):
                _place(plugin, parked, variant == "with")
                times[variant].append(timed(install))
                log(f"{name} round {i + 1}/{repeat}: {variant} plugin {times[variant][-1]:.3f}s")
        _place(plugin, parked, True)
        with_s, without_s = statistics.median(times["with"]), statistics.median(times["without"])
        results.append({
            "name": name, "ratio": round(with_s / without_s, 3),
            "baseline": f"the same zypper in of {what} without our commit plugin",
            "target": "<= 1.05", "met": with_s / without_s <= 1.05, "seconds": round(with_s, 3),
            "baseline_seconds": round(without_s, 3), "overhead_ms": round((with_s - without_s) * 1000, 1),
            "repeat": repeat, "runs": [round(t, 3) for t in times["with"]],
            "baseline_runs": [round(t, 3) for t in times["without"]]})
    if not os.listdir(os.path.join(mock.root, "var/lib/klp/transactions")):
        raise RuntimeError("the commit plugin never ran: the comparison would be meaningless")
    return results


def _place(plugin: str, parked: str, present: bool) -> None:
    if present and os.path.exists(parked):
        os.replace(parked, plugin)
    elif not present and os.path.exists(plugin):
        os.replace(plugin, parked)


def write_big_repo(repo: str) -> None:
    """rpm-md metadata for KERNELS x VERSIONS live patch packages (no package files needed)."""
    os.makedirs(f"{repo}/repodata", exist_ok=True)
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/'
             f'common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{KERNELS * VERSIONS}">\n']
    for k in range(1, KERNELS + 1):
        name = f"kernel-livepatch-6_1_0-{k}-default"
        for v in range(1, VERSIONS + 1):
            pkgid = hashlib.sha256(f"{name}-{v}".encode()).hexdigest()
            parts.append(
                f'<package type="rpm"><name>{name}</name><arch>x86_64</arch>'
                f'<version epoch="0" ver="{v}" rel="1.1"/><checksum type="sha256" pkgid="YES">{pkgid}'
                f'</checksum><summary>Live patch {v}</summary><description>Live patch {v} for '
                f'6.1.0-{k}-default</description><packager/><url/><time file="1" build="1"/>'
                f'<size package="9000" installed="2000" archive="2300"/>'
                f'<location href="x86_64/{name}-{v}-1.1.x86_64.rpm"/><format><rpm:license>GPL-2.0-only'
                f'</rpm:license><rpm:provides><rpm:entry name="{name}" flags="EQ" epoch="0" ver="{v}" '
                f'rel="1.1"/></rpm:provides></format></package>\n')
    parts.append("</metadata>\n")
    raw = "".join(parts).encode()
    packed = gzip.compress(raw, mtime=0)
    digest = hashlib.sha256(packed).hexdigest()
    with open(f"{repo}/repodata/{digest}-primary.xml.gz", "wb") as handle:
        handle.write(packed)
    with open(f"{repo}/repodata/repomd.xml", "w", encoding="utf-8") as handle:
        handle.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/'
                     f'metadata/repo"><revision>1</revision><data type="primary"><checksum type="sha256">'
                     f'{digest}</checksum><open-checksum type="sha256">{hashlib.sha256(raw).hexdigest()}'
                     f'</open-checksum><location href="repodata/{digest}-primary.xml.gz"/><timestamp>1'
                     f'</timestamp><size>{len(packed)}</size><open-size>{len(raw)}</open-size></data>'
                     f'</repomd>\n')


def resolver_vs_zypper(work: str, repeat: int) -> dict:
    mock = MockRoot(f"{work}/resolver").create(None)
    write_big_repo(mock.repo)
    with open(os.path.join(mock.root, "etc/zypp/repos.d/local.repo"), "w", encoding="utf-8") as handle:
        handle.write(f"[local]\nname=local\nbaseurl=file://{mock.repo}\nenabled=1\nautorefresh=0\n"
                     "gpgcheck=0\n")
    mock.zypper("--quiet", "refresh", check=True)
    ours = [sys.executable, "-c",
            "import sys; from zypp_plugin_klp.drivers.solver import Resolver; "
            "print(Resolver(sys.argv[1]).stream(sys.argv[2]).newest.evr)", mock.root, RELEASE]
    theirs = ["zypper", "--root", mock.root, "--non-interactive", "--no-refresh", "se", "-s",
              "--match-exact", PKG]
    env = {**os.environ, "ZYPP_LOGFILE": os.path.join(mock.base, "zypper.log"),
           "ZYPP_LOCKFILE_ROOT": mock.root}

    def answer_ours() -> str:
        return subprocess.run(ours, capture_output=True, text=True, check=True).stdout.strip()

    def answer_zypper() -> str:
        out = subprocess.run(theirs, capture_output=True, text=True, check=True, env=env).stdout
        import rpm

        versions = [cols[3].strip() for cols in (line.split("|") for line in out.splitlines())
                    if len(cols) >= 5 and cols[1].strip() == PKG]
        best = versions[0]
        for version in versions[1:]:
            if rpm.labelCompare(("0", *version.split("-", 1)), ("0", *best.split("-", 1))) > 0:
                best = version
        return best

    expected = f"{VERSIONS}-1.1"
    for fn in (answer_ours, answer_zypper):
        got = fn()
        if got != expected:
            raise RuntimeError(f"{fn.__name__} answered {got!r}, expected {expected!r}")
    times = {"ours": [], "zypper": []}
    for i in range(repeat):
        times["ours"].append(timed(answer_ours))
        times["zypper"].append(timed(answer_zypper))
        log(f"resolver round {i + 1}/{repeat}: klp resolver {times['ours'][-1]:.3f}s, "
            f"zypper se -s {times['zypper'][-1]:.3f}s")
    ours_s, zypper_s = statistics.median(times["ours"]), statistics.median(times["zypper"])
    return {"name": "resolver_vs_zypper", "ratio": round(zypper_s / ours_s, 2),
            "baseline": "zypper se -s output parsed for the newest version", "target": "> 1 and < 0.5 s",
            "met": ours_s < zypper_s and ours_s < 0.5, "seconds": round(ours_s, 3),
            "baseline_seconds": round(zypper_s, 3), "packages": KERNELS * VERSIONS, "repeat": repeat}


def main() -> int:
    why = missing_capabilities()
    if why:
        log(f"cannot run: {why}")
        return 1
    repeat = int(os.environ.get("KLP_BENCH_REPEAT", "5"))
    work = tempfile.mkdtemp(prefix="klp-zypper-bench.")
    try:
        for result in plugin_overhead(work, repeat) + [resolver_vs_zypper(work, repeat)]:
            print("BENCH " + json.dumps(result), flush=True)
        return 0
    except (RuntimeError, subprocess.CalledProcessError, AssertionError) as exc:
        log(f"error: {exc}")
        return 1
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
