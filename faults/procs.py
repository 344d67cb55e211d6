"""Processes the suite starts: free ports, logs, and stopping or killing them by their pid only.

Nothing here looks a process up by name: the suite signals the pids it started, and children it
finds under them through /proc (psutil is not a dependency).
"""

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# The machine's own services: never to be touched, not even by accident of a port.
RESERVED_PORTS = frozenset({5432, 6379})


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice), never the machine's own services'."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid`, read from /proc/<n>/stat (field 4 is the parent pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # Gone while we looked.
        # The command name (field 2) is in parentheses and may hold spaces: split after it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Children, grandchildren and so on of `pid`, parents first."""
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop(0)):
            found.append(child)
            queue.append(child)
    return found


def signal_pid(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


@dataclass
class Managed:
    """One long-running process the suite started, with its log and the signal that stops it."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    cwd: Path
    stop_signal: int = signal.SIGTERM
    user: str | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def start(self) -> "Managed":
        """Start it in a session of its own, so a Ctrl-C reaches only the suite, which stops it."""
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, user=self.user,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def family(self) -> list[int]:
        """Its pid and its descendants'; read before aiming, as reading /proc takes a while."""
        return [self.pid, *descendants(self.pid)]

    def kill_hard(self, family: list[int]) -> list[int]:
        """SIGKILL it and its `family` at once (a crash, not a shutdown); the pids killed."""
        pids = [self.pid, *(pid for pid in family if pid != self.pid)]
        for pid in pids:
            signal_pid(pid, signal.SIGKILL)
        self.popen.wait()
        return pids

    def stop(self, timeout: float = 15) -> None:
        """Its own stop signal first, then SIGKILL for it and whatever it left behind."""
        if not self.alive():
            return
        family = descendants(self.pid)
        signal_pid(self.pid, self.stop_signal)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            signal_pid(self.pid, signal.SIGKILL)
            self.popen.wait()
        for pid in family:  # Orphans of a parent that had to be killed.
            signal_pid(pid, signal.SIGKILL)


def wait_for(what: str, ready, *, timeout: float, process: Managed | None = None) -> None:
    """Poll `ready()` until true; fail early if `process` died meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise RuntimeError(f"{process.name} exited while waiting for {what}; log {process.log}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s")


def connection_holders(pids: list[int], port: int) -> list[int]:
    """Those of `pids` holding an accepted TCP connection to local `port`: serving a request.

    The kernel's table holds every recent connection (thousands in TIME_WAIT under load), so
    it is searched for the few sockets the processes hold rather than parsed whole: the
    answer must come within the milliseconds a request lasts.
    """
    table = b"".join(Path(name).read_bytes() for name in ("/proc/net/tcp", "/proc/net/tcp6"))
    return [pid for pid in pids if any(
        _serves(table, inode, port) for inode in _socket_inodes(pid)
    )]


def _socket_inodes(pid: int) -> list[bytes]:
    inodes = []
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.append(link[8:-1].encode())
    except OSError:
        pass  # Gone, or a descriptor closed while we read.
    return inodes


def _serves(table: bytes, inode: bytes, port: int) -> bool:
    """Is socket `inode` an established connection on local `port` (fields 2, 4 and 10)?"""
    at = table.find(b" " + inode + b" ")
    if at < 0:
        return False
    line = table[table.rfind(b"\n", 0, at) + 1 : table.find(b"\n", at)].split()
    return line[9] == inode and line[3] == b"01" and int(line[1].rsplit(b":", 1)[1], 16) == port
