"""Run the processes of a Procfile the way a supervisor would (for end-to-end and chaos tests)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def read_procfile(path: Path) -> dict[str, str]:
    """``name: command`` lines (comments and blank lines skipped)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            name, _, command = line.partition(":")
            out[name.strip()] = command.strip()
    return out


@dataclass
class Process:
    name: str
    command: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Starts Procfile entries with one environment; kills and restarts them on demand."""

    procfile: Path
    env: dict[str, str]
    logs: Path
    only: list[str] | None = None
    processes: dict[str, Process] = field(default_factory=dict)

    def start(self) -> Supervisor:
        self.logs.mkdir(parents=True, exist_ok=True)
        for name, command in read_procfile(self.procfile).items():
            if self.only is None or name in self.only:
                self.processes[name] = Process(name, command, self.logs / f"{name}.log")
                self._spawn(self.processes[name])
        return self

    def _spawn(self, p: Process) -> None:
        argv = shlex.split(p.command)
        if argv[0] == "aisoc":  # the console script of this interpreter's environment
            argv = [sys.executable, "-m", "aisoc", *argv[1:]]
        out = p.log.open("ab")
        # Run from the log folder: "python -m" puts the working directory first on sys.path, which
        # would shadow PYTHONPATH (a test's own copy of roles/, say).
        p.proc = subprocess.Popen(
            argv, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT, cwd=self.logs
        )

    def kill(self, name: str) -> None:
        """SIGKILL, as an OOM kill or a crash would."""
        p = self.processes[name]
        if p.proc and p.proc.poll() is None:
            p.proc.send_signal(signal.SIGKILL)
            p.proc.wait(10)

    def restart(self, name: str) -> None:
        """Start it again, as systemd's Restart=always would."""
        p = self.processes[name]
        p.restarts += 1
        self._spawn(p)

    def revive(self) -> list[str]:
        """Restart every process that exited on its own (systemd's Restart=always)."""
        dead = [n for n, p in self.processes.items() if p.proc is not None and p.proc.poll() is not None]
        for name in dead:
            self.restart(name)
        return dead

    def alive(self, name: str) -> bool:
        p = self.processes[name]
        return p.proc is not None and p.proc.poll() is None

    def stop(self, timeout: float = 20) -> dict[str, int | None]:
        """SIGTERM everything; returns the exit codes (a clean shutdown is 0)."""
        for p in self.processes.values():
            if p.proc and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for name, p in self.processes.items():
            if p.proc is None:
                continue
            try:
                codes[name] = p.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.proc.kill()
                codes[name] = None
        return codes

    def tail(self, name: str, lines: int = 30) -> str:
        return "\n".join(self.processes[name].log.read_text(errors="replace").splitlines()[-lines:])
