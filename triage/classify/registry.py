"""Which category model a process uses: the newest compatible one on disk, swapped in live.

`monshi model train` writes a new versioned file; every worker notices it within
`check_every` seconds and uses it for the next item, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from triage.classify.model import TrainedModel, load, load_or_train, newest_compatible

log = logging.getLogger(__name__)

# Loaded models by file: immutable, so every registry of the process may share them.
_LOADED: dict[Path, TrainedModel] = {}
_LOCK = threading.Lock()


class ModelRegistry:
    def __init__(
        self,
        directory: Path,
        *,
        check_every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.check_every = check_every
        self.clock = clock
        self._model: TrainedModel | None = None
        self._checked_at = float("-inf")

    @property
    def loaded(self) -> TrainedModel | None:
        """The model loaded so far, without touching the disk (for event-loop code)."""
        return self._model

    def load_existing(self) -> TrainedModel | None:
        """Load the newest model on disk, if any, without ever training one."""
        if newest_compatible(self.directory) is None:
            return None
        return self.current()

    def current(self) -> TrainedModel:
        """The model to use now (trained and saved first when the directory has none)."""
        now = self.clock()
        if self._model is not None and now - self._checked_at < self.check_every:
            return self._model
        self._checked_at = now
        path = newest_compatible(self.directory)
        if path is None:
            with _LOCK:
                model = load_or_train(self.directory)
            log.info("category model %s trained into %s", model.version, self.directory)
        else:
            with _LOCK:
                model = _LOADED.get(path) or _LOADED.setdefault(path, load(path))
        if self._model is None or model.version != self._model.version:
            log.info("category model %s in use", model.version)
        self._model = model
        return model
