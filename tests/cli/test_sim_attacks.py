"""Issue 15, finding 1: a user's simulated-kernel tree must never make root write outside it.

Each test performs one attack from the issue on a tree with a held transition, then runs the
commands root would run (``wait --timeout 0``, ``force``, ``poke``, ``wait --revert``) and checks
that nothing was written outside the tree and that every refusal is one line, not a traceback.
"""

import json
import os

import pytest

from zypp_plugin_klp.paths import SIMULATOR_STATE

from conftest import run_klp

COMMANDS = [
    ["wait", "--timeout", "0"],
    ["force", "-n"],
    ["poke"],  # a kgr command
    ["wait", "--revert", "--timeout", "0"],
]


def _run(root, command):
    return run_klp("--root", root, *command, prog="kgr" if command == ["poke"] else "klp")
CRON = "* * * * * root touch /tmp/pwned"


@pytest.fixture
def held(sim, build_ko):
    """A transition held in progress by memdb's stats thread (pid 4242, tid 4245)."""
    sim.load(build_ko("livepatch_1_1_1"))
    return sim


@pytest.fixture
def attack(held, tmp_path):
    """The held demo tree, a root-owned directory outside it, and a helper to edit the state."""
    outside = tmp_path / "cron.d"
    outside.mkdir()

    def edit(change):
        path = os.path.join(held.root, SIMULATOR_STATE)
        with open(path) as handle:
            doc = json.load(handle)
        change(doc)
        with open(path, "w") as handle:
            json.dump(doc, handle)

    return held.root, outside, edit


def _symlink_task(root, outside):
    task = os.path.join(root, "proc/4242/task/4245")
    for entry in os.listdir(task):
        os.unlink(os.path.join(task, entry))
    os.rmdir(task)
    os.symlink(str(outside), task)


def _outside_untouched(root, outside, tmp_path):
    assert os.listdir(outside) == []
    assert not (tmp_path / "x").exists()
    assert not os.path.exists(os.path.join(os.path.dirname(root), "x"))
    assert not os.path.exists("/x") and not os.path.exists("/tmp/pwned")


def _one_line_refusal(result):
    assert "Traceback" not in result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert not any(line.startswith("* * * * *") for line in lines)  # no forged line either


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_patch_name_with_dotdot_is_refused(attack, tmp_path, command):
    root, outside, edit = attack
    edit(lambda doc: doc["patches"].append({**doc["patches"][0], "name": "../../../../x"}))
    result = _run(root, command)
    _outside_untouched(root, outside, tmp_path)
    _one_line_refusal(result)
    if command[0] == "force" or "--revert" in command:
        assert result.returncode != 0 and "invalid name" in result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_stack_frame_with_a_cron_line_and_a_symlinked_task_dir(attack, tmp_path, command):
    root, outside, edit = attack
    edit(lambda doc: doc["threads"][-1]["stack"].append("f\n" + CRON))
    _symlink_task(root, outside)
    result = _run(root, command)
    _outside_untouched(root, outside, tmp_path)
    _one_line_refusal(result)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_symlinked_task_dir_alone_is_never_written_through(attack, tmp_path, command):
    root, outside, _edit = attack
    _symlink_task(root, outside)
    result = _run(root, command)
    _outside_untouched(root, outside, tmp_path)
    _one_line_refusal(result)
    if command[0] == "force":
        assert result.returncode != 0


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_tree_owned_by_another_user_is_not_driven(attack, tmp_path, command):
    root, outside, _edit = attack
    if os.geteuid() != 0:
        pytest.skip("needs root to give the tree to another user")
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            os.lchown(name, 65534, 65534)
    before = open(os.path.join(root, SIMULATOR_STATE)).read()
    result = _run(root, command)
    _one_line_refusal(result)
    assert open(os.path.join(root, SIMULATOR_STATE)).read() == before
    if command[0] == "force" or "--revert" in command:
        assert result.returncode != 0 and "not owned" in result.stderr


def test_wait_never_writes(held):
    """A reading command leaves every file of the tree as it was (no simulated time passes)."""
    state = os.path.join(held.root, SIMULATOR_STATE)
    before = (open(state).read(), os.stat(state).st_mtime_ns)
    result = run_klp("--root", held.root, "wait", "--timeout", "0.3", "--interval", "0.1")
    assert result.returncode == 1
    assert (open(state).read(), os.stat(state).st_mtime_ns) == before
