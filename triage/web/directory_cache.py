"""The web process's in-memory view of the agency, refreshed when the stored config changes.

The voice path reads it without I/O; when the database is down it keeps serving the last
snapshot, so calls are still answered in the client's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from triage.directory import Directory
from triage.store.directory_store import config_version, load_directory
from triage.store.repository import Repository

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0


class DirectoryCache:
    """The current Directory and secretaries' held-item counts, swapped atomically."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self.directory = Directory(version="", tenants={}, secretaries={})
        self.healthy = False
        # TwiML rendered from this directory, by what it depends on; emptied on a swap.
        self.rendered: dict[Hashable, str] = {}
        # Values worked out from the directory and these held counts (who may be rung for
        # what), swapped as one with the counts: a reader never pairs new counts with an
        # old plan.
        self._planned: tuple[Mapping[str, int], dict[Hashable, Any]] = ({}, {})

    def render(self, key: Hashable, build: Callable[[], str]) -> str:
        """TwiML for `key`, built once per directory version (VoiceResponse is slow)."""
        body = self.rendered.get(key)
        if body is None:
            if len(self.rendered) > 50_000:
                self.rendered.clear()
            body = self.rendered[key] = build()
        return body

    def planned(
        self, key: Hashable, work_out: Callable[[Directory, Mapping[str, int]], Any]
    ) -> Any:
        """work_out(directory, held counts), kept until the next refresh (every 2 s)."""
        held_counts, plans = self._planned  # read before the directory: see refresh()
        try:
            return plans[key]
        except KeyError:
            plan = plans[key] = work_out(self.directory, held_counts)
            return plan

    def refresh(self) -> bool:
        """Reload when the config version changed; always refresh held counts. Blocking."""
        version = config_version(self.repository.engine)
        changed = version != self.directory.version or not self.healthy
        if changed:
            self.directory = load_directory(self.repository.engine)
            self.rendered = {}
            log.info("agency directory loaded at config version %s", version or "(none)")
        # After the directory: plans read from the new tuple were worked out from it.
        self._planned = (self.repository.held_counts(), {})
        self.healthy = True
        return changed

    async def run(self, stop: asyncio.Event, interval: float = REFRESH_SECONDS) -> None:
        """Refresh until `stop`; a failing database keeps the last snapshot and is retried."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as error:  # any store failure: keep serving the last snapshot
                if self.healthy:
                    log.warning("directory refresh failed, serving the last snapshot: %s", error)
                self.healthy = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
