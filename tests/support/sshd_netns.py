"""A real sshd (Debian openssh-server) in a network namespace of its own, for the ssh backend's tests.

Why a network namespace and not a container: the distribution's sshd is installed on this machine
by ``.ci/run`` (apt), so nothing needs a network at image-build time or a Docker engine; it starts
in tens of milliseconds; and the host reaches it only over a veth link to an address of its own,
so every probe and every SSH session crosses a real network hop (the target's port is in the
namespace's port space, not this machine's). The filesystem is shared, which the tests use to look
for leaks on the "remote" side.

Per instance, in a fresh temp dir: a new ed25519 host key and client key, ``known_hosts`` written
from the generated host key, an ``authorized_keys`` with the client's public key, and an
``sshd_config`` that accepts only that key for this machine's user. ``stop()`` kills everything in
the namespace and deletes it (the veth pair goes with it).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PORT = 2222


def unavailable() -> str | None:
    """Why the fixture cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "needs root to create a network namespace (ip netns)"
    for tool in (SSHD, shutil.which("ip"), shutil.which("ssh"), shutil.which("ssh-keygen")):
        if not tool or not Path(tool).exists():
            return (f"needs {tool or 'ip/ssh/ssh-keygen'}: install openssh-server and iproute2 "
                    "(.ci/run does)")
    probe = subprocess.run([sys_python(), "-c", "import flask"], capture_output=True)
    if probe.returncode != 0:
        return "the 'remote' python3 needs Flask: apt-get install python3-flask (.ci/run does)"
    return None


def sys_python() -> str:
    return shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "python3"


def _run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, timeout=30)


class SshdNetns:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.netns = f"sre-ssh-{tag}"
        self.veth_host, self.veth_ns = f"srs{tag}h", f"srs{tag}n"
        self.subnet = random.randrange(0, 256)
        self.host_ip = f"10.213.{self.subnet}.1"
        self.address = f"10.213.{self.subnet}.2"
        self.port = PORT
        self.dir = Path(tempfile.mkdtemp(prefix="sre-sshd-test-"))
        self.user = os.environ.get("USER") or "root"
        self.proc: subprocess.Popen | None = None

    # --- keys and files ---------------------------------------------------------------------

    def keygen(self, name: str, comment: str = "sre-test") -> Path:
        path = self.dir / name
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))
        return path

    def known_hosts_line(self, key: Path | None = None) -> str:
        public = (key or self.host_key).with_suffix(".pub").read_text().split()
        return f"[{self.address}]:{self.port} {public[0]} {public[1]}\n"

    def write_known_hosts(self, name: str = "known_hosts", key: Path | None = None) -> Path:
        path = self.dir / name
        path.write_text(self.known_hosts_line(key))
        return path

    @property
    def target_host(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> SshdNetns:
        self.host_key = self.keygen("host_key")
        self.client_key = self.keygen("id_client")
        self.known_hosts = self.write_known_hosts()
        (self.dir / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        config = self.dir / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", f"ListenAddress {self.address}", f"HostKey {self.host_key}",
            f"PidFile {self.dir / 'sshd.pid'}", f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no", f"AllowUsers {self.user}",
            "X11Forwarding no", "AllowTcpForwarding no", "PermitTunnel no", "MaxSessions 50",
            "MaxStartups 50", "LogLevel ERROR", ""]))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        try:
            _run("ip", "netns", "add", self.netns)
            _run("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns,
                 "netns", self.netns)
            _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.veth_host)
            _run("ip", "link", "set", self.veth_host, "up")
            inside = ("ip", "netns", "exec", self.netns)
            _run(*inside, "ip", "addr", "add", f"{self.address}/30", "dev", self.veth_ns)
            _run(*inside, "ip", "link", "set", self.veth_ns, "up")
            _run(*inside, "ip", "link", "set", "lo", "up")
            with open(self.dir / "sshd.log", "wb") as log:
                self.proc = subprocess.Popen([*inside, SSHD, "-D", "-e", "-f", str(config)],
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=log, start_new_session=True)
            self.wait_port(self.port, 10)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_port(self, port: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection((self.address, port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or (self.proc is not None and self.proc.poll() is not None):
                    log = (self.dir / "sshd.log").read_text(errors="replace")
                    raise RuntimeError(f"sshd did not listen on {self.address}:{port}: {log[-800:]}")
                time.sleep(0.05)

    def pids(self) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    def stop_sshd(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def stop(self) -> None:
        self.stop_sshd()
        for pid in self.pids():  # anything a test left running in the namespace (by pid, ours only)
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.veth_host], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SshdNetns:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def measure(runs: int = 10) -> dict:
    """The ssh backend's costs against this sshd: start-up, one `exec`, one restart, clean-up (s)."""
    from openhands_driver.target import create_target

    with SshdNetns() as sshd:
        target = create_target("ssh", scenario_id="i-measure", fault="stale_lockfile", host=sshd.target_host,
                               identity_file=sshd.client_key, known_hosts=sshd.known_hosts)
        began = time.monotonic()
        try:
            target.start()
            started = time.monotonic() - began
            execs = []
            for _ in range(runs):
                t0 = time.monotonic()
                target.exec(["true"])
                execs.append(time.monotonic() - t0)
            t0 = time.monotonic()
            target.restart()
            restart = time.monotonic() - t0
        finally:
            t0 = time.monotonic()
            target.cleanup()
            cleanup = time.monotonic() - t0
    execs.sort()
    return {"start_s": round(started, 3), "exec_median_s": round(execs[len(execs) // 2], 3),
            "restart_s": round(restart, 3), "cleanup_s": round(cleanup, 3), "execs": runs}


if __name__ == "__main__":  # uv run python -m tests.support.sshd_netns
    import json

    reason = unavailable()
    print(json.dumps({"skipped": reason} if reason else measure()))
