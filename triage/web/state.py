"""Typed application state, shared by the app factory and every handler that needs it."""

from __future__ import annotations

import redis
from aiohttp import web

from triage.settings import Settings
from triage.store.presence import Presence
from triage.store.repository import Repository
from workers.dispatch import Dispatcher

SETTINGS = web.AppKey("settings", Settings)
REPOSITORY = web.AppKey("repository", Repository)
REDIS = web.AppKey("redis", redis.Redis)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
PRESENCE = web.AppKey("presence", Presence)
