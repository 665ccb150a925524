"""Real fleet engines for the tests: a salt-master with salt-minions on 127.0.0.1, ansible-playbook.

The engines live in their own venv (``make setup`` builds ``.cache/fleet-venv``). Every daemon is
started here in the foreground, stopped by its PID, listens on loopback only and keeps all its
state in a temporary directory.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import yaml

from zypp_plugin_klp.testing import capabilities

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLEET_BIN = os.path.join(REPO, ".cache", "fleet-venv", "bin")
SALT_TREE = os.path.join(REPO, "fleet", "salt")
ANSIBLE_TREE = os.path.join(REPO, "fleet", "ansible")
KLP = os.path.join(os.path.dirname(sys.executable), "klp")


def require(*tools: str) -> None:
    """Skip (fail under CI=true) unless the fleet venv has ``tools`` and we are root."""
    why = None
    if os.geteuid() != 0:
        why = "the fleet tests run minions that drive kernels and mock roots as root"
    for tool in tools:
        if why is None and not os.access(os.path.join(FLEET_BIN, tool), os.X_OK):
            why = f"{tool} is not installed in {FLEET_BIN} (run 'make setup')"
    if why:
        capabilities.unavailable(f"fleet engines unavailable: {why}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_yaml(path: str, doc: Dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(doc, handle)


def _dirs(base: str) -> Dict[str, Any]:
    return {"root_dir": base, "pki_dir": f"{base}/pki", "cachedir": f"{base}/cache",
            "sock_dir": f"{base}/sock", "pidfile": f"{base}/run.pid", "log_file": f"{base}/log",
            "key_logfile": f"{base}/key.log", "user": "root", "enable_fqdns_grains": False,
            "enable_gpu_grains": False}


class Salt:
    """A salt-master and its minions under ``base``."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.master_conf = os.path.join(base, "master")
        self.publish_port, self.ret_port = _free_port(), _free_port()
        self.procs: Dict[str, subprocess.Popen] = {}
        self.minions: List[str] = []

    def start_master(self, pillar: Optional[Dict[str, Any]] = None) -> None:
        pillar_dir = os.path.join(self.base, "pillar")
        _write_yaml(os.path.join(pillar_dir, "top.sls"), {"base": {"*": ["fleet"]}})
        _write_yaml(os.path.join(pillar_dir, "fleet.sls"), pillar or {})
        _write_yaml(os.path.join(self.master_conf, "master"), {
            **_dirs(os.path.join(self.base, "master.d")), "interface": "127.0.0.1",
            "publish_port": self.publish_port, "ret_port": self.ret_port, "auto_accept": True,
            "file_roots": {"base": [SALT_TREE]}, "pillar_roots": {"base": [pillar_dir]},
            "fileserver_backend": ["roots"], "worker_threads": 3})
        self._spawn("master", "salt-master", "-c", self.master_conf)

    def start_minion(self, minion: str, settings: Dict[str, Any]) -> None:
        conf = os.path.join(self.base, f"minion-{minion}")
        _write_yaml(os.path.join(conf, "minion"), {
            **_dirs(os.path.join(self.base, f"{minion}.d")), "id": minion, "master": "127.0.0.1",
            "master_port": self.ret_port, "publish_port": self.publish_port,
            "acceptance_wait_time": 1, "grains_refresh_every": 0, **settings})
        self._spawn(minion, "salt-minion", "-c", conf)
        self.minions.append(minion)

    def _spawn(self, name: str, tool: str, *args: str) -> None:
        log = open(os.path.join(self.base, f"{name}.out"), "wb")  # noqa: SIM115 - closed in stop
        self.procs[name] = subprocess.Popen([os.path.join(FLEET_BIN, tool), *args, "-l", "warning"],
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        log.close()

    def wait_for_minions(self, timeout: float = 120) -> float:
        """Until every minion answers test.ping; returns the seconds it took."""
        start = time.monotonic()
        while True:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited {proc.returncode}: {self.output(name)}")
            answers = self.cli("*", "test.ping", timeout=5, check=False)
            if isinstance(answers, dict) and all(answers.get(m) is True for m in self.minions):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"minions not up after {timeout}s: {answers}")
            time.sleep(0.5)

    def output(self, name: str) -> str:
        with open(os.path.join(self.base, f"{name}.out"), errors="replace") as handle:
            return handle.read()[-3000:]

    def _json(self, argv: List[str], timeout: float, check: bool) -> Any:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60)
        try:
            return json.loads(done.stdout)
        except ValueError:
            if check:
                raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n"
                                     f"{done.stdout}{done.stderr}") from None
            return None

    def cli(self, target: str, *args: str, timeout: float = 120, check: bool = True) -> Any:
        """``salt TARGET ARGS`` as JSON, one document for all minions."""
        return self._json([os.path.join(FLEET_BIN, "salt"), "-c", self.master_conf, "--out=json",
                           "--static", "-t", str(timeout), target, *args], timeout, check)

    def run(self, *args: str, timeout: float = 300) -> Any:
        """``salt-run ARGS`` as JSON."""
        return self._json([os.path.join(FLEET_BIN, "salt-run"), "-c", self.master_conf,
                           "--out=json", *args], timeout, True)

    def wait_event(self, tagmatch: str, trigger: Any, match: Any,
                   timeout: float = 60) -> Dict[str, Any]:
        """Listen to the master's event bus (``salt-run state.event``), call ``trigger()``, and
        return the first event whose tag matches and for which ``match(tag, data)`` holds."""
        listener = subprocess.Popen([os.path.join(FLEET_BIN, "salt-run"), "-c", self.master_conf,
                                     "state.event", f"tagmatch={tagmatch}", "count=-1"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                    start_new_session=True)
        seen = []
        try:
            trigger()
            deadline = time.monotonic() + timeout
            assert listener.stdout is not None
            while time.monotonic() < deadline:
                line = listener.stdout.readline()  # one "TAG\tDATA" line per event
                if not line:
                    break
                tag, _, data = line.rstrip("\n").partition("\t")
                event = json.loads(data)
                seen.append((tag, event))
                if match(tag, event):
                    return {"tag": tag, "data": event}
        finally:
            os.killpg(listener.pid, signal.SIGTERM)
            listener.wait()
        raise AssertionError(f"no matching event for {tagmatch} within {timeout}s: {seen}")

    def master_memory_kib(self) -> Dict[str, int]:
        """Resident (RSS) and proportional (PSS: shared pages split) memory of the master's
        process group, i.e. all its worker processes, in KiB."""
        pgid = self.procs["master"].pid
        total = {"Rss": 0, "Pss": 0}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.getpgid(int(pid)) != pgid:
                    continue
                with open(f"/proc/{pid}/smaps_rollup") as handle:
                    for line in handle:
                        key, _, rest = line.partition(":")
                        if key in total:
                            total[key] += int(rest.split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return total

    def stop(self) -> None:
        """Stop every daemon by its PID (its whole session: salt forks workers)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def chroot_klp(mock: Any) -> List[str]:
    """argv running the mock root's own /usr/bin/klp chrooted into it (as test_end_to_end does),
    so ``klp update`` runs the real zypper with root ``/`` and its commit plugin."""
    return ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-m",
            "zypp_plugin_klp.testing.nsexec", mock.root, mock.upper, mock.work, "--",
            "chroot", mock.root, "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "ZYPP_LOGFILE=/var/log/zypper.log", "ZYPP_LOCKFILE_ROOT=/", "LANG=C.UTF-8",
            "/usr/bin/klp"]


def ansible_playbook(base: str, inventory: Dict[str, Any], playbook: str, *args: str) \
        -> subprocess.CompletedProcess:
    """The real ``ansible-playbook`` with our collection, all state under ``base``."""
    inv = os.path.join(base, "inventory.yml")
    _write_yaml(inv, {"all": {"hosts": inventory, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}}})
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": ANSIBLE_TREE, "ANSIBLE_HOME": base,
           "ANSIBLE_LOCAL_TEMP": os.path.join(base, "tmp"),
           "ANSIBLE_REMOTE_TEMP": os.path.join(base, "tmp"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_DEPRECATION_WARNINGS": "0",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    return subprocess.run([os.path.join(FLEET_BIN, "ansible-playbook"), "-i", inv, playbook, *args],
                          capture_output=True, text=True, env=env, timeout=600)
