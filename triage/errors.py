"""Named exceptions for the whole project, in one place."""

from __future__ import annotations


class MonshiError(Exception):
    """Base of every error Monshi raises on purpose."""


class SettingsError(MonshiError):
    """A required setting is missing or malformed; the message names the variable."""


class ConfigError(MonshiError):
    """An agency config file is invalid. `problems` lists every error with its path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class NotFound(MonshiError):
    """The thing asked for does not exist."""


class Forbidden(MonshiError):
    """The actor may not see or act on this thing."""


class InvalidTransition(MonshiError):
    """The item is not in a state that allows this action."""


class InvalidTarget(MonshiError):
    """An action names a secretary, pool or tenant the item cannot go to."""


class SchemaNotReady(MonshiError):
    """The database lacks Monshi's tables: `monshi db upgrade` was not run."""


class PresenceConflict(MonshiError):
    """The secretary's presence cannot change now: she is on a call."""


class LeaseExpired(InvalidTransition):
    """The secretary's claim on the item ran out: it went back to the queue."""
