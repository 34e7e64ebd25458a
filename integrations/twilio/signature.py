"""Twilio webhook signature check, a guard on every /twilio/ handler.

Twilio signs the URL it called, so the URL is rebuilt from MONSHI_PUBLIC_URL (what Twilio
was configured with) plus the request's path and query: behind a proxy or a load
balancer the host the app sees is not the one Twilio signed.
"""

from __future__ import annotations

import base64
import functools
import hmac
import logging
import weakref
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator, get_signature_algorithm

log = logging.getLogger(__name__)

TWILIO_PREFIX = "/twilio/"
SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_DIGESTS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}


def compute_signature(
    token: bytes, url: str, params: Mapping[str, Any], algorithm: str
) -> str | None:
    """RequestValidator.compute_signature's result at a fifth of its cost (None: not ours to say).

    Twilio's algorithm: the URL, then every parameter name followed by its value, names
    sorted and each name's distinct values sorted; sorting the distinct (name, value)
    pairs is the same order. The HMAC starts from a copy of one keyed with the token.
    tests/test_twilio_corpus.py checks it against Twilio's own vectors.
    """
    digest = _DIGESTS.get(algorithm.upper())
    if digest is None or not isinstance(params, MultiDictProxy | dict):
        return None
    pairs = sorted(params.items())
    if len(set(pairs)) != len(pairs):
        pairs = sorted(set(pairs))  # a name sent twice with one value counts once
    try:
        payload = url + "".join([name + value for name, value in pairs])
    except TypeError:  # a file in a multipart form: the library's validator decides
        return None
    mac = _keyed(token, digest).copy()
    mac.update(payload.encode())
    return base64.b64encode(mac.digest()).decode()


@functools.lru_cache(maxsize=8)
def _keyed(token: bytes, digest: str) -> hmac.HMAC:
    return hmac.new(token, digestmod=digest)


class TwilioSignature:
    """Checks X-Twilio-Signature against one auth token and the public URL Twilio calls."""

    def __init__(self, auth_token: str, public_url: str) -> None:
        self.validator = RequestValidator(auth_token)
        self.token = auth_token.encode()
        self.base = public_url.rstrip("/")

    async def check(self, request: web.Request) -> None:
        """Raise 403 unless the request is signed; the form is parsed (request.post())."""
        signature = request.headers.get(SIGNATURE_HEADER, "")
        params = await request.post() if request.method == "POST" else {}
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        url = self.base + request.raw_path  # as sent: Twilio signs the URL undecoded
        # One HMAC over the exact URL first; the library's validate() also tries the URL
        # with and without an explicit port (Twilio is not consistent there), at twice the
        # cost, and handles what compute_signature leaves to it.
        expected = compute_signature(self.token, url, params, algorithm) if signature else None
        if not signature or not (
            (expected is not None and hmac.compare_digest(expected, signature))
            or self.validator.validate(url, params, signature, algorithm=algorithm)
        ):
            log.info(
                "rejected %s %s: %s X-Twilio-Signature",
                request.method,
                request.path,
                "wrong" if signature else "missing",
            )
            raise web.HTTPForbidden(text="invalid Twilio signature")


TWILIO_SIGNATURE = web.AppKey("twilio_signature", TwilioSignature)

# Every handler signed() made: the app refuses to start with a /twilio/ route not in it.
SIGNED: weakref.WeakSet[Handler] = weakref.WeakSet()  # not kept alive by it


def signed(handler: Handler) -> Handler:
    """A Twilio webhook: answers 403 to a request not signed for app[TWILIO_SIGNATURE].

    A guard on each handler rather than a middleware: an application with no middleware
    at all skips aiohttp's middleware chain, about 4 % of an incoming call's CPU in a
    py-spy profile (triage.web.app.check_guarded makes sure no Twilio route lacks it).
    """

    async def checked(request: web.Request) -> web.StreamResponse:
        await request.app[TWILIO_SIGNATURE].check(request)
        return await handler(request)

    functools.update_wrapper(checked, handler)
    SIGNED.add(checked)
    return checked
