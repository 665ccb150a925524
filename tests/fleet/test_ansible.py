"""Ansible for real: ``ansible-playbook`` over three local-connection hosts, each a mock root (real
rpm, real zypper run chrooted, a simulated kernel), with the suse.klp collection."""

import json
import os
import subprocess

import pytest

import kobuild
from conftest import VERMAGIC
from zypp_plugin_klp.testing import packages
from zypp_plugin_klp.testing.mockroot import MockRoot, default_scenario

from . import engines

PKG = "kernel-livepatch-6_1_0-26-default"
HOSTS = ("h1", "h2", "h3")
ROLLOUT = os.path.join(engines.ANSIBLE_TREE, "ansible_collections/suse/klp/playbooks/rollout.yml")
INFO = """
- hosts: all
  gather_facts: false
  tasks:
    - suse.klp.klp_info: {klp_command: "{{ klp_command }}"}
      register: info
    - suse.klp.klp_update: {klp_command: "{{ klp_command }}"}
      check_mode: true
      register: plan
    - ansible.builtin.copy:
        content: "{{ {'info': info, 'plan': plan} | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
"""


@pytest.fixture(scope="module")
def hosts(tmp_path_factory, klp_product_rpm):
    engines.require("ansible-playbook")
    from zypp_plugin_klp.testing.plugin import macros_path, template_path

    work = tmp_path_factory.mktemp("ansible-rpms")
    rpms = []
    for version in ("1", "2"):
        ko = kobuild.write_module(work / f"lp{version}.ko", f"livepatch_{version}_1_1",
                                  vermagic=VERMAGIC, functions=["livepatch_cmdline_proc_show"])
        rpms.append(packages.build_from_template(str(work), str(ko), "6.1.0-26-default", version,
                                                 f"- Fix CVE-2024-{1000 + int(version)}",
                                                 template_path(), macros_path()))
    base = str(tmp_path_factory.mktemp("ansible"))
    mocks = {}
    try:
        for host in HOSTS:
            mock = MockRoot(os.path.join(base, f"root-{host}")).create(klp_product_rpm,
                                                                         default_scenario())
            mock.publish(*rpms)
            with open(os.path.join(mock.root, "etc/sysconfig/livepatching"), "a") as handle:
                handle.write('LIVEPATCH_WAIT="1"\nLIVEPATCH_PLUGIN_WAIT="1"\n')
            mocks[host] = mock
        inventory = {h: {"klp_command": engines.chroot_klp(m), "klp_timeout": 3}
                     for h, m in mocks.items()}
        yield base, inventory, mocks
    finally:
        for mock in mocks.values():
            subprocess.run(["rm", "-rf", "--one-file-system", mock.base], check=False)


def test_info_and_check_mode_across_three_hosts(hosts):
    base, inventory, mocks = hosts
    r = mocks["h2"].chroot("zypper", "--non-interactive", "--no-gpg-checks", "install", f"{PKG}=1")
    assert r.returncode == 0, r.stdout + r.stderr  # memdb-stats on h2 holds v1's transition
    playbook = os.path.join(base, "info.yml")
    with open(playbook, "w") as handle:
        handle.write(INFO)
    out = os.path.join(base, "out")
    os.makedirs(out)
    r = engines.ansible_playbook(base, inventory, playbook, "-e", f"out_dir={out}")
    assert r.returncode == 0, r.stdout + r.stderr
    seen = {h: json.load(open(os.path.join(out, f"{h}.json"))) for h in HOSTS}
    assert {h: s["info"]["status"] for h, s in seen.items()} == \
        {"h1": "ready", "h2": "in_progress", "h3": "ready"}
    assert seen["h2"]["info"]["blocking"] == ["4242 /opt/memdb/bin/memdb"]
    assert seen["h2"]["info"]["active"]["rpm"] == f"{PKG}-1-1.1.x86_64"
    assert seen["h1"]["info"]["active"] is None and seen["h1"]["info"]["changed"] is False
    assert seen["h1"]["plan"]["changed"] is True and seen["h1"]["plan"]["planned"] == "2-1.1"
    assert [p for p in mocks["h1"].installed() if p.startswith(PKG)] == []  # check mode only


def test_rolling_role_stops_at_the_blocked_host_and_completes_after_release(hosts):
    base, inventory, mocks = hosts
    for host in ("h1", "h3"):
        mocks[host].kernel.exit(4242)
    r = engines.ansible_playbook(base, inventory, ROLLOUT)
    assert r.returncode == 2, r.stdout + r.stderr
    assert ("the transition of livepatch_1_1_1 is still in progress after 3s, blocked by: "
            "4242 /opt/memdb/bin/memdb") in r.stdout
    assert "h3" not in r.stdout.split("PLAY RECAP")[0]  # the rollout stopped before h3
    assert f"{PKG}-2-1.1" in mocks["h1"].installed()
    assert [p for p in mocks["h3"].installed() if p.startswith(PKG)] == []
    print(r.stdout)

    mocks["h2"].kernel.release()
    r = engines.ansible_playbook(base, inventory, ROLLOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    for host in HOSTS:
        assert f"{PKG}-2-1.1" in mocks[host].installed()
        assert "ready" == mocks[host].klp("status").stdout.strip()
    print(r.stdout)


def test_ansible_doc_reads_every_module(tmp_path):
    engines.require("ansible-doc")
    modules = [f"suse.klp.{m}" for m in ("klp_info", "klp_update", "klp_wait")]
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": engines.ANSIBLE_TREE,
           "ANSIBLE_HOME": str(tmp_path)}
    r = subprocess.run([os.path.join(engines.FLEET_BIN, "ansible-doc"), "--json", "-t", "module",
                        *modules], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    docs = json.loads(r.stdout)
    assert sorted(docs) == modules
    for name in modules:
        assert {"klp_command", "root"} <= set(docs[name]["doc"]["options"]), name
        assert docs[name]["return"], name
