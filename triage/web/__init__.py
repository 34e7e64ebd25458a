"""The web edge: aiohttp app factory, JSON API, health endpoints (and later the console)."""
