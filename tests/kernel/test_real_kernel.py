"""The product against a real Linux kernel: boot it under qemu once, run guest_checks.py inside,
and report each in-guest check here with the guest's own failure message."""

import os
import re
import xml.etree.ElementTree as ET

import pytest

from zypp_plugin_klp.testing import capabilities

from . import qemu_harness

GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest_checks.py")
with open(GUEST, encoding="utf-8") as _handle:
    CHECKS = re.findall(r"^def (test_\w+)\(", _handle.read(), re.M)
with open(os.path.join(os.path.dirname(GUEST), "guest_sim_twin.py"), encoding="utf-8") as _handle:
    CHECKS += re.findall(r"^def (test_\w+)\(", _handle.read(), re.M)

WHY = qemu_harness.missing()


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    if WHY:
        capabilities.unavailable(f"real-kernel tests cannot run here: {WHY}")
    result = qemu_harness.boot(str(tmp_path_factory.mktemp("qemu")))
    if not result["junit"]:
        pytest.fail("the guest produced no results; its console said:\n" +
                    "\n".join(str(result["console"]).splitlines()[-40:]) + "\n" + str(result["log"])[-3000:])
    cases = {}
    for case in ET.fromstring(str(result["junit"])).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped")
        cases[case.get("name")] = ("failed", problem.get("message", "") + "\n" + (problem.text or "")) \
            if problem is not None else (("skipped", skipped.get("message", "")) if skipped is not None
                                         else ("passed", ""))
    return result, cases


@pytest.mark.parametrize("check", CHECKS)
def test_in_guest(guest, check):
    result, cases = guest
    status, detail = cases.get(check, ("missing", f"the guest did not run {check}; guest log:\n"
                                                  f"{str(result['log'])[-3000:]}"))
    assert status == "passed", f"{check} {status} in the guest ({result['release']}):\n{detail}"


def test_sim_twin_simulator_tells_the_same_story(guest, tmp_path):
    """The simulator, fed the guest's module files, matches the real kernel after every step."""
    import json

    from . import sim_twin

    result, _cases = guest
    assert result["twin"], "the guest recorded no twin story (see test_sim_twin_story_on_the_real_kernel)"
    real = json.loads(str(result["twin"]))
    simulated = sim_twin.tell(sim_twin.Simulated(str(tmp_path / "sim"), str(result["release"]),
                                                 str(result["modules"])))
    found = sim_twin.differences(real, simulated)
    assert not found, "\n".join(found)
