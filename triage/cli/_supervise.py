"""Process supervision for `monshi run`: start child processes, restart the ones that die, stop all.

This is a composition edge (it starts processes), so it lives with the CLI, not the domain.
Children run in process groups of their own, so a Ctrl-C at the terminal reaches only the
supervisor, which then stops them in order. On Linux each child also asks the kernel for
SIGTERM when the supervisor dies (PR_SET_PDEATHSIG), so even `kill -9` leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

log = logging.getLogger("monshi.run")

PR_SET_PDEATHSIG: Final = 1
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SupervisorError(Exception):
    """A child could not be started, or did not become ready."""


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start one supervised process.

    Tiers start in ascending order (each tier ready before the next starts) and stop in
    descending order: what the others need (Redis) sits in a lower tier than they do.
    """

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    tier: int = 1
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 30.0


@dataclass(slots=True)
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Keeps a set of child processes running until asked to stop.

    A child that exits while the supervisor is not stopping is restarted after a delay
    that doubles with each quick failure (backoff_initial, capped at backoff_max); a child
    that ran for stable_after seconds before dying starts again from backoff_initial.
    """

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 30.0,
        stop_timeout: float = 10.0,
        poll_interval: float = 0.2,
    ) -> None:
        self._children = [_Child(spec) for spec in specs]
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self._stop_requests = 0
        self._parent_pid = os.getpid()

    # -- control --------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the supervisor to stop; a second request during the stop kills at once.

        Safe to call from a signal handler: it only bumps a counter.
        """
        self._stop_requests += 1

    @property
    def stop_requested(self) -> bool:
        return self._stop_requests > 0

    def pids(self) -> dict[str, int]:
        """The pid of every running child, by name."""
        return {
            child.spec.name: child.process.pid
            for child in self._children
            if child.process is not None and child.running
        }

    def start(self) -> None:
        """Start every child, tier by tier, waiting for each tier to be ready.

        Raises SupervisorError when a child cannot be spawned or does not become ready;
        returns early (leaving the rest unstarted) when a stop is requested meanwhile.
        """
        for tier in sorted({child.spec.tier for child in self._children}):
            members = [child for child in self._children if child.spec.tier == tier]
            for child in members:
                try:
                    self._spawn(child)
                except OSError as error:
                    raise SupervisorError(f"cannot start {child.spec.name}: {error}") from error
            for child in members:
                if not self._wait_ready(child):
                    return

    def wait(self) -> None:
        """Watch the children, restarting those that die, until a stop is requested."""
        while not self.stop_requested:
            self.poll()
            time.sleep(self.poll_interval)

    def poll(self) -> None:
        """Notice children that exited and restart those whose backoff has elapsed."""
        now = time.monotonic()
        for child in self._children:
            process = child.process
            if process is not None and process.returncode is None and process.poll() is not None:
                self._schedule_restart(child, process, now)
            if child.restart_at is not None and child.restart_at <= now:
                child.restart_at = None
                try:
                    self._spawn(child)
                except OSError as error:
                    log.error("cannot restart %s: %s", child.spec.name, error)
                    child.failures += 1
                    child.restart_at = now + self.restart_delay(child.failures)

    def stop(self) -> None:
        """Stop every child: SIGTERM, up to stop_timeout seconds' grace, then SIGKILL.

        Higher tiers stop first, so Redis outlives the processes that talk to it.
        """
        for child in self._children:
            child.restart_at = None
        for tier in sorted({child.spec.tier for child in self._children}, reverse=True):
            members = [
                child for child in self._children if child.spec.tier == tier and child.running
            ]
            for child in members:
                assert child.process is not None
                log.info("stopping %s (pid %d)", child.spec.name, child.process.pid)
                child.process.send_signal(signal.SIGTERM)
            self._reap(members)

    # -- internals --------------------------------------------------------------------

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        child.process = subprocess.Popen(
            spec.argv,
            env=dict(spec.env) if spec.env else None,
            stdin=subprocess.DEVNULL,
            process_group=0,
            preexec_fn=_die_with_parent(self._parent_pid),
        )
        child.started_at = time.monotonic()
        log.info("started %s (pid %d)", spec.name, child.process.pid)

    def _wait_ready(self, child: _Child) -> bool:
        """True once the child is ready; False when a stop was requested first."""
        check = child.spec.ready
        if check is None:
            return True
        deadline = time.monotonic() + child.spec.ready_timeout
        while not check():
            if self.stop_requested:
                return False
            assert child.process is not None
            code = child.process.poll()
            if code is not None:
                raise SupervisorError(
                    f"{child.spec.name} exited ({_describe_exit(code)}) before it was ready"
                )
            if time.monotonic() > deadline:
                raise SupervisorError(
                    f"{child.spec.name} was not ready after {child.spec.ready_timeout:.0f} s"
                )
            time.sleep(0.05)
        return True

    def _schedule_restart(
        self, child: _Child, process: subprocess.Popen[bytes], now: float
    ) -> None:
        ran_for = now - child.started_at
        child.failures = 1 if ran_for >= self.stable_after else child.failures + 1
        delay = self.restart_delay(child.failures)
        child.restart_at = now + delay
        log.warning(
            "%s (pid %d) exited (%s) after %.1f s; restarting in %g s",
            child.spec.name,
            process.pid,
            _describe_exit(process.returncode),
            ran_for,
            delay,
        )

    def restart_delay(self, failures: int) -> float:
        """Seconds to wait before restarting a child after `failures` quick failures in a row."""
        return float(min(self.backoff_max, self.backoff_initial * 2 ** max(0, failures - 1)))

    def _reap(self, members: list[_Child]) -> None:
        deadline = time.monotonic() + self.stop_timeout
        while any(child.running for child in members):
            if time.monotonic() > deadline or self._stop_requests > 1:
                break
            time.sleep(0.05)
        for child in members:
            assert child.process is not None
            if child.running:
                log.warning(
                    "%s (pid %d) did not stop; killing it", child.spec.name, child.process.pid
                )
                child.process.kill()
            child.process.wait()


@contextmanager
def stop_signals_call(handler: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT, SIGTERM and SIGHUP call `handler` instead of ending the process."""

    def on_signal(signum: int, _frame: object) -> None:
        handler()

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"code {returncode}"


@functools.cache
def _libc() -> ctypes.CDLL:
    # The interpreter is linked against libc, so its own symbol table has prctl.
    return ctypes.CDLL(None, use_errno=True)


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive SIGTERM when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = _libc().prctl
    sigterm = int(signal.SIGTERM)

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        # The parent may have died between fork() and prctl(): then nobody will signal us.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec
