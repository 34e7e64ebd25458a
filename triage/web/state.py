"""Typed application state, shared by the app factory and every handler that needs it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import redis
import redis.asyncio as aioredis
from aiohttp import web

from triage.classify.registry import ModelRegistry
from triage.settings import Settings
from triage.store.calls import CallStore
from triage.store.presence import Presence
from triage.store.repository import Repository
from triage.web.directory_cache import DirectoryCache
from triage.web.spool import Spool
from triage.web.tokens import TokenCache
from workers.dispatch import Dispatcher

SETTINGS = web.AppKey("settings", Settings)
REPOSITORY = web.AppKey("repository", Repository)
REDIS = web.AppKey("redis", redis.Redis)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
PRESENCE = web.AppKey("presence", Presence)
ASYNC_REDIS = web.AppKey("async_redis", aioredis.Redis)
CALLS = web.AppKey("calls", CallStore)
DIRECTORY = web.AppKey("directory", DirectoryCache)
SPOOL = web.AppKey("spool", Spool)
# Bearer tokens looked up lately (a revocation takes effect within its ttl).
TOKENS = web.AppKey("tokens", TokenCache)
# The wall clock the voice path reads (business hours); tests replace it.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
# The category model for IVR speech, loaded in the background (None until loaded).
MODELS: web.AppKey[ModelRegistry | None] = web.AppKey("models")
