"""Bearer tokens the web process has looked up lately, so most API requests skip the lookup.

Every /api/v1/ request used to pay a database transaction and a thread-pool hop of its own
for the bearer lookup before its action (about 1.5 ms of a claim's 6 on PostgreSQL).
Holding a live token's secretary here for `ttl` seconds saves both. The price is a
bound: a token revoked, or a secretary's role, languages or skills changed, takes effect
in this process at most `ttl` seconds later (on every replica, each with its own cache).
Unknown and revoked tokens are never held, so a new token works at once and a refused
one is asked about again each time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from triage.models import Secretary
from triage.store.repository import hash_token

# A revoked token stops working within this many seconds (`monshi user revoke-tokens`
# reaches other processes through the database only).
TOKEN_CACHE_SECONDS = 5.0
# Beyond this many live tokens the cache starts over rather than grow without end.
MAX_TOKENS = 10_000


class TokenCache:
    """Token hash -> (secretary, when looked up), each good for `ttl` seconds."""

    def __init__(
        self, ttl: float = TOKEN_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._held: dict[str, tuple[Secretary, float]] = {}

    def get(self, token: str) -> Secretary | None:
        """The secretary of a token looked up live less than `ttl` seconds ago, or None."""
        held = self._held.get(hash_token(token))
        if held is None:
            return None
        secretary, looked_up = held
        if self.clock() - looked_up >= self.ttl:
            return None
        return secretary

    def put(self, token: str, secretary: Secretary, asked_at: float) -> None:
        """Remember a token the database said is live in a lookup begun at `asked_at`.

        The entry ages from when the lookup began, not when it answered: a revocation
        committed after that moment is honoured at most `ttl` seconds after it.
        """
        if len(self._held) >= MAX_TOKENS:
            self._held.clear()
        self._held[hash_token(token)] = (secretary, asked_at)
