"""The worker process's connections, built once by the worker entry and handed to jobs.

RQ calls job functions with plain arguments only, so the connections a job needs live
here for the life of the worker process; they are installed explicitly (by
`workers.main` or a test), never created on import.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from integrations.twilio.rest import SmsSender
from triage.classify.registry import ModelRegistry
from triage.store.repository import Repository
from workers.dispatch import Dispatcher


@dataclass(frozen=True, slots=True)
class WorkerContext:
    repository: Repository
    redis: redis.Redis
    dispatcher: Dispatcher
    # The category model; without one, triage cannot guess and asks for review.
    models: ModelRegistry | None = None
    # Twilio's REST API for on-call SMS alerts; None when no account is configured.
    sms: SmsSender | None = None


_current: WorkerContext | None = None


class ContextMissing(RuntimeError):
    """A job ran in a process where no WorkerContext was installed."""


def install(context: WorkerContext | None) -> None:
    """Make `context` the one jobs in this process use (None removes it)."""
    global _current
    _current = context


def current() -> WorkerContext:
    if _current is None:
        raise ContextMissing("no WorkerContext installed: start jobs through `monshi worker`")
    return _current
