"""Benchmark `klp blocking` and `klp status` on a simulated kernel with 100,000 tasks."""

# Usage: .venv/bin/python bench/run.py   (or: make bench)
#
# Builds a simulated kernel (10,000 processes x 10 threads, every 100th thread inside
# cmdline_proc_show) in a temporary directory, loads a live patch so that a transition is held by
# 1,000 threads, then times (wall clock, median of N), with a warm page cache, interleaved
# round-robin and repeated:
#
#   klp --root DIR blocking      vs  the Python floor (listdir + read every patch_state)
#   klp --root DIR blocking      vs  a POSIX shell loop with $(cat ...) (SUSE's algorithm)
#   klp --root DIR status        vs  python3 -c pass, and vs python3 -IS -c pass (klp's flags)
#   klp --root DIR metrics       vs  python3 -c pass, on a second, steady-state server (the demo
#                                    scenario with live patch 1 installed from an RPM and active):
#                                    what the timer and node_exporter's users run every minute.
#                                    During a transition it also walks every task, like
#                                    'klp blocking'; the uncached time (rpm database and lifecycle
#                                    data read again) is reported beside it.
#
# stdout gets one "BENCH {json}" line per comparison; progress goes to stderr.
# Environment: KLP_BENCH_SCALE (float, default 1.0) scales the number of processes;
# KLP_BENCH_REPEAT (int, default 5) is the number of timed runs per command (median is reported).
# Exit status: 0 when the benchmark ran (even if a target is missed), 1 on errors, 130 when
# interrupted. The temporary tree is removed in every case.

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # leave no __pycache__ beside fixtures/ (klp itself may write its own)

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(PROJECT, "fixtures"))
if PROJECT not in sys.path:
    sys.path.insert(1, PROJECT)

from kobuild import write_module  # noqa: E402  (fixtures/kobuild.py)

from zypp_plugin_klp.sim.model import FEATURES, SimState, SimThread  # noqa: E402
from zypp_plugin_klp.sim.driver import SimulatedKernel  # noqa: E402
from zypp_plugin_klp.errors import KlpError  # noqa: E402

RELEASE = "6.1.0-26-default"
VERMAGIC = f"{RELEASE} SMP preempt mod_unload modversions"
PROCESSES = 10_000
THREADS = 10  # per process
BLOCK_EVERY = 100  # every 100th thread sleeps in the patched function
FIRST_PID = 1000
FUNCTION = "cmdline_proc_show"
MODULE = "livepatch_bench_6_1_0_26"
SHELL_SINGLE_RUN_TASKS = 20_000  # above this the shell loop takes minutes: time it once
REWARM_AFTER = 5.0  # seconds: after a run this long, re-read the tree untimed before going on

BLOCKED_STACK = [f"{FUNCTION}+0x2c/0x70", "seq_read_iter+0x11f/0x460", "vfs_read+0x1bd/0x2f0",
                 "ksys_read+0x67/0xf0", "do_syscall_64+0x5b/0x80"]
IDLE_STACK = ["futex_wait_queue+0x63/0xa0", "futex_wait+0x171/0x260", "do_futex+0x11d/0x1b0",
              "do_syscall_64+0x5b/0x80"]

# Baseline (a): SUSE's algorithm as a POSIX shell loop; $1 is the root of the tree.
SHELL_LOOP = r"""
patch=
for f in "$1"/sys/kernel/livepatch/*/transition; do
    [ "$(cat "$f" 2>/dev/null)" = 1 ] || continue
    patch=${f%/transition}
done
[ -n "$patch" ] || exit 0
enabled=$(cat "$patch/enabled")
for d in "$1"/proc/[0-9]*/task/[0-9]*; do
    s=$(cat "$d/patch_state" 2>/dev/null) || continue
    [ -n "$s" ] && [ "$s" -ge 0 ] 2>/dev/null || continue
    if [ "$s" -ne "$enabled" ]; then
        p=${d#"$1"/proc/}
        echo "${p%%/*}"
    fi
done | sort -nu
"""

# Baseline (b): the floor, the least a Python program must do to read every patch_state.
FLOOR_LOOP = """\
import os, sys
proc = sys.argv[1] + "/proc"
for pid in os.listdir(proc):
    if pid.isdigit():
        task = proc + "/" + pid + "/task"
        for tid in os.listdir(task):
            fd = os.open(task + "/" + tid + "/patch_state", os.O_RDONLY)
            os.read(fd, 32)
            os.close(fd)
"""


class BenchError(Exception):
    """Something went wrong: the benchmark cannot report a trustworthy number."""


def log(message: str) -> None:
    """A progress line on stderr."""
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


def env_number(name: str, default: float, kind: type) -> float:
    """A positive number from the environment."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise BenchError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if not value > 0 or value == float("inf"):
        raise BenchError(f"{name}={raw!r} must be positive")
    return value


def build(root: str, workdir: str, processes: int) -> set:
    """Create the simulated kernel under ``root``, start the transition; return blocking PIDs."""
    started = time.perf_counter()
    state = SimState(release=RELEASE, vermagic=VERMAGIC, features=list(FEATURES))
    blocking_pids = set()
    blocking_tids = set()
    for i in range(processes):
        pid = FIRST_PID + i * THREADS  # pids and tids share one number space, as in Linux
        cmdline = ["/usr/bin/worker", "--shard", str(i)]
        for j in range(THREADS):
            tid = pid + j
            blocked = (i * THREADS + j) % BLOCK_EVERY == 0
            state.threads[tid] = SimThread(pid, tid, "worker" if j == 0 else f"worker-{j}",
                                           cmdline, list(BLOCKED_STACK if blocked else IDLE_STACK))
            if blocked:
                blocking_pids.add(pid)
                blocking_tids.add(tid)
    tasks = len(state.threads)
    log(f"building {processes:,} processes x {THREADS} threads = {tasks:,} tasks in {root}")
    SimulatedKernel.create(root, state)
    del state
    log(f"tree written in {time.perf_counter() - started:.1f}s")

    step = time.perf_counter()
    ko = write_module(os.path.join(workdir, f"{MODULE}.ko"), MODULE,
                      functions=[f"livepatch_{FUNCTION}"], vermagic=VERMAGIC)
    loaded = SimulatedKernel(root).load(ko)
    log(f"loaded {loaded} in {time.perf_counter() - step:.1f}s")

    # Check the tree itself: the transition runs and exactly the expected threads hold it up.
    with open(os.path.join(root, "sys/kernel/livepatch", MODULE, "transition"), "rb") as handle:
        if handle.read().strip() != b"1":
            raise BenchError(f"{MODULE} is not in transition after loading")
    unswitched = set()
    seen = 0
    proc = os.path.join(root, "proc")
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        for tid in os.listdir(f"{proc}/{pid}/task"):
            seen += 1
            with open(f"{proc}/{pid}/task/{tid}/patch_state", "rb") as handle:
                if int(handle.read()) != 1:
                    unswitched.add(int(tid))
    if seen != tasks or unswitched != blocking_tids:
        raise BenchError(f"tree holds {seen:,} tasks ({tasks:,} expected), {len(unswitched):,} "
                         f"unswitched ({len(blocking_tids):,} expected, same ones: "
                         f"{unswitched == blocking_tids})")
    os.sync()  # write the fresh tree back now, not while commands are being timed
    log(f"transition held by {len(blocking_tids):,} threads of {len(blocking_pids):,} processes; "
        f"build took {time.perf_counter() - started:.1f}s")
    return blocking_pids


def run(argv: list, capture: bool = False) -> tuple:
    """Run a command once, like subprocess.run: (wall seconds, stdout or None); BenchError on failure.

    The command gets its own process group so that on Ctrl-C or SIGTERM the whole group (the shell
    loop's cat and sort too) is killed before the tree is removed.
    """
    started = time.perf_counter()
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, start_new_session=True) as proc:
        try:
            out, err = proc.communicate()
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            raise
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip()
        raise BenchError(f"{argv[0]} {' '.join(argv[1:2])}... exited with {proc.returncode}: "
                         f"{text[-2000:]}")
    return seconds, (out.decode(errors="replace") if capture else None)


def pid_set(text: str, who: str) -> set:
    """The PIDs a blocking command printed, one per line."""
    lines = text.split()
    try:
        pids = [int(line) for line in lines]
    except ValueError:
        raise BenchError(f"{who} printed something other than PIDs: {text[:200]!r}") from None
    if len(pids) != len(set(pids)):
        raise BenchError(f"{who} printed duplicate PIDs")
    return set(pids)


def compare(expected: set, got: set, who: str) -> None:
    """Fail loudly when ``who`` named other PIDs than expected."""
    if got != expected:
        missing = sorted(expected - got)[:10]
        extra = sorted(got - expected)[:10]
        raise BenchError(f"{who} named {len(got):,} PIDs, {len(expected):,} expected; "
                         f"missing {missing}, unexpected {extra}")


def bench(root: str, expected: set, tasks: int, repeat: int) -> list:
    """Warm up, verify, time the commands round-robin; return the BENCH records."""
    bindir = os.path.dirname(sys.executable)
    klp = os.path.join(bindir, "klp")
    if not os.access(klp, os.X_OK):
        raise BenchError(f"{klp} not found: install the project into the venv (make setup)")
    shell_repeat = 1 if tasks > SHELL_SINGLE_RUN_TASKS else repeat
    commands = {  # name: (argv, timed repetitions)
        "klp blocking": ([klp, "--root", root, "blocking"], repeat),
        "floor": ([sys.executable, "-c", FLOOR_LOOP, root], repeat),
        "shell": (["/bin/sh", "-c", SHELL_LOOP, "sh", root], shell_repeat),
        "klp status": ([klp, "--root", root, "status"], repeat),
        "python -c pass": ([sys.executable, "-c", "pass"], repeat),
        "python -IS -c pass": ([sys.executable, "-IS", "-c", "pass"], repeat),
    }

    def rewarm(seconds: float) -> None:
        # While the shell loop runs (minutes, each file read once), the kernel may reclaim the
        # tree's page cache as cold (seen: the next reader took 2.4s instead of 0.45s); re-read it.
        if seconds > REWARM_AFTER:
            log(f"re-warming the page cache (untimed floor run: {run(commands['floor'][0])[0]:.3f}s)")

    # Warm-up: one untimed run each (page cache, .pyc files); its output is what we verify.
    outputs = {}
    for name, (argv, _) in commands.items():
        if name == "shell" and tasks > SHELL_SINGLE_RUN_TASKS:
            log(f"warm-up: {name} (one untimed run to check its output; takes minutes on "
                f"{tasks:,} tasks)")
        seconds, outputs[name] = run(argv, capture=True)
        log(f"warm-up: {name} {seconds:.3f}s")
        rewarm(seconds)
    klp_pids = pid_set(outputs["klp blocking"], "klp blocking")
    shell_pids = pid_set(outputs["shell"], "the shell loop")
    compare(expected, klp_pids, "klp blocking")
    compare(expected, shell_pids, "the shell loop")
    if outputs["klp status"].strip() != "in_progress":
        raise BenchError(f"klp status printed {outputs['klp status']!r}, not 'in_progress'")
    if outputs["floor"] or outputs["python -c pass"]:
        raise BenchError("a baseline printed output")
    log(f"verified: klp blocking and the shell loop both name the {len(expected):,} expected PIDs")

    # Timed runs, round-robin so that machine noise hits every command alike; each round starts
    # one command further on, so that none always runs first (e.g. right after the slow shell).
    times = {name: [] for name in commands}
    names = list(commands)
    for round_no in range(1, repeat + 1):
        parts = []
        shift = (round_no - 1) % len(names)
        for name in names[shift:] + names[:shift]:
            argv, count = commands[name]
            if len(times[name]) < count:
                if name == "shell" and count == 1:
                    log("timing the shell loop once (minutes on the full tree)")
                seconds, _ = run(argv)
                times[name].append(seconds)
                parts.append(f"{name} {seconds:.3f}s")
                rewarm(seconds)
        log(f"round {round_no}/{repeat}: " + ", ".join(parts))
    median = {name: statistics.median(values) for name, values in times.items()}

    def record(name: str, target: str, ratio: float, seconds: float, base: str,
               base_seconds: float, base_name: str, klp_name: str = "klp blocking",
               **extra: object) -> dict:
        op, bound = target.split()
        met = ratio <= float(bound) if op == "<=" else ratio >= float(bound)
        return {"name": name, "ratio": round(ratio, 3), "baseline": base, "target": target,
                "met": met, "seconds": round(seconds, 4), "baseline_seconds": round(base_seconds, 4),
                "tasks": tasks, "repeat": repeat, "baseline_repeat": len(times[base_name]),
                "runs": [round(t, 4) for t in times[klp_name]],
                "baseline_runs": [round(t, 4) for t in times[base_name]], **extra}

    blocking = median["klp blocking"]
    shell_note = ({"note": "shell loop timed once (it takes minutes on this tree)"}
                  if shell_repeat == 1 and repeat > 1 else {})
    return [
        record("blocking_vs_floor", "<= 1.3", blocking / median["floor"], blocking,
               "python floor loop reading every patch_state", median["floor"], "floor",
               blocking_pids=len(expected)),
        record("blocking_vs_shell", ">= 10", median["shell"] / blocking, blocking,
               "POSIX shell loop (SUSE algorithm)", median["shell"], "shell",
               blocking_pids=len(expected), **shell_note),
        record("status_vs_python", "<= 1.2", median["klp status"] / median["python -c pass"],
               median["klp status"], "python3 -c pass", median["python -c pass"],
               "python -c pass", klp_name="klp status"),
        record("status_vs_isolated_python", "<= 2.5",
               median["klp status"] / median["python -IS -c pass"], median["klp status"],
               "python3 -IS -c pass (klp's own interpreter flags)", median["python -IS -c pass"],
               "python -IS -c pass", klp_name="klp status"),
    ]


DEMO_RELEASE = "6.1.0-26-default"


def bench_metrics(workdir: str, repeat: int) -> dict:
    """Time ``klp metrics`` on a ready server with an installed, active live patch."""
    from zypp_plugin_klp.paths import METRICS_FACTS
    from zypp_plugin_klp.testing import packages

    root = os.path.join(workdir, "server")
    sim = SimulatedKernel.from_scenario(root, os.path.join(PROJECT, "fixtures/scenarios/demo.yaml"))
    ko = write_module(os.path.join(workdir, "livepatch_1_1_1.ko"), "livepatch_1_1_1",
                      functions=["livepatch_cmdline_proc_show"],
                      vermagic=f"{DEMO_RELEASE} SMP preempt mod_unload modversions")
    packages.rpm_install(root, packages.build_livepatch_rpm(workdir, ko, DEMO_RELEASE, "1", "1.1",
                                                            "- Initial kernel live patch"))
    sim.load(os.path.join(root, "lib/modules", DEMO_RELEASE, "livepatch/livepatch-1-1.1.ko"))
    sim.release()
    klp = os.path.join(os.path.dirname(sys.executable), "klp")
    metrics = [klp, "--root", root, "metrics"]
    baseline = [sys.executable, "-c", "pass"]
    _, out = run(metrics, capture=True)  # warm-up: page cache, .pyc files, the facts cache
    wanted = 'klp_patch_info{module="livepatch_1_1_1",package="kernel-livepatch-6_1_0-26-default"'
    if wanted not in out or "klp_transition_in_progress 0" not in out:
        raise BenchError(f"klp metrics printed an unexpected exposition:\n{out[:2000]}")
    run(baseline)
    times: dict = {"metrics": [], "pass": [], "uncached": []}
    for round_no in range(repeat):
        order = ["metrics", "pass", "uncached"]
        for name in order[round_no % 3:] + order[:round_no % 3]:
            if name == "uncached":
                os.unlink(os.path.join(root, METRICS_FACTS))
            times[name].append(run(metrics if name != "pass" else baseline)[0])
        log(f"metrics round {round_no + 1}/{repeat}: " +
            ", ".join(f"{n} {times[n][-1]:.3f}s" for n in times))
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["metrics"] / median["pass"]
    return {"name": "metrics_vs_python", "ratio": round(ratio, 3), "baseline": "python3 -c pass",
            "target": "<= 1.5", "met": ratio <= 1.5, "seconds": round(median["metrics"], 4),
            "baseline_seconds": round(median["pass"], 4),
            "uncached_seconds": round(median["uncached"], 4), "repeat": repeat,
            "runs": [round(t, 4) for t in times["metrics"]],
            "baseline_runs": [round(t, 4) for t in times["pass"]]}


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that removes the tree


def main() -> int:
    """Build, measure, print the BENCH lines; always remove the temporary tree."""
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, _terminate)
    workdir = None
    try:
        scale = env_number("KLP_BENCH_SCALE", 1.0, float)
        repeat = int(env_number("KLP_BENCH_REPEAT", 5, int))
        processes = max(1, round(PROCESSES * scale))
        workdir = tempfile.mkdtemp(prefix="klp-bench-")
        root = os.path.join(workdir, "root")
        os.mkdir(root)
        expected = build(root, workdir, processes)
        records = bench(root, expected, processes * THREADS, repeat)
        records.append(bench_metrics(workdir, repeat))
        for item in records:
            sys.stdout.write("BENCH " + json.dumps(item) + "\n")
        sys.stdout.flush()
        for item in records:
            if not item["met"]:
                log(f"target missed: {item['name']} ratio {item['ratio']} (target {item['target']})")
        return 0
    except (BenchError, KlpError) as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if workdir is not None:
            step = time.perf_counter()
            shutil.rmtree(workdir, ignore_errors=True)
            log(f"removed {workdir} in {time.perf_counter() - step:.1f}s")
        log(f"total {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
