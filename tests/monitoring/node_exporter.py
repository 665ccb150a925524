"""Debian's prometheus-node-exporter run for a test: loopback only, textfile collector only,
started and stopped by its PID, scraped over HTTP."""

import os
import signal
import socket
import subprocess
import time
import urllib.request

READY_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeExporter:
    """One node_exporter process reading ``*.prom`` files from ``directory``."""

    def __init__(self, binary: str, directory: str, log: str) -> None:
        self.binary = binary
        self.directory = directory
        self.log = log
        self.proc = None
        self.url = ""

    def start(self) -> "NodeExporter":
        for _attempt in range(3):  # the free port may be taken between probe and bind
            port = _free_port()
            self.url = f"http://127.0.0.1:{port}/metrics"
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.binary, f"--web.listen-address=127.0.0.1:{port}",
                     "--collector.disable-defaults", "--collector.textfile",
                     f"--collector.textfile.directory={self.directory}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"node_exporter did not start; see {self.log}:\n" + open(self.log).read()[-2000:])

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.scrape_text()
                return True
            except OSError:
                time.sleep(0.05)  # polling the observable state: is it serving yet?
        return False

    def scrape_text(self) -> str:
        with urllib.request.urlopen(self.url, timeout=10) as response:
            return response.read().decode()

    def scrape(self, prefix: str = "klp_") -> dict:
        """``{series: value}`` of the samples whose name starts with ``prefix`` (series as
        node_exporter prints them: labels sorted by name)."""
        found = {}
        for line in self.scrape_text().splitlines():
            if line.startswith(prefix):
                series, _, value = line.rpartition(" ")
                found[series] = float(value)
        return found

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
