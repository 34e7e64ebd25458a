"""Real Twilio material from the shared corpus: signature vectors and captured request bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator

from integrations.twilio.signature import (
    TWILIO_SIGNATURE,
    TwilioSignature,
    compute_signature,
    signed,
)
from tests.conftest import SHARED_CORPUS
from tests.factories import twilio_signature
from triage.settings import Settings
from triage.store.repository import Repository
from triage.web.app import create_app

TWILIO = SHARED_CORPUS / "twilio"


def _load(name: str) -> Any:
    path = TWILIO / name
    if not path.exists():
        pytest.fail(f"the shared corpus is missing {path}")
    return json.loads(Path(path).read_text(encoding="utf-8"))


VECTORS = _load("request_validator_vectors.json")
FORM_CASES = [case for case in VECTORS["cases"] if "params" in case or "params_multi" in case]


@pytest.mark.parametrize("case", FORM_CASES, ids=[case["name"] for case in FORM_CASES])
async def test_signature_vectors_from_twilio_python(
    aiohttp_client: Any, case: dict[str, Any]
) -> None:
    """The signature check accepts Twilio's own test vectors, and refuses them when tampered."""
    url = urlsplit(case["url"])
    public_url = f"{url.scheme}://{url.netloc}"

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app[TWILIO_SIGNATURE] = TwilioSignature(VECTORS["auth_token"], public_url)
    app.router.add_post(url.path, signed(ok))
    client = await aiohttp_client(app)
    pairs = case["params_multi"] if "params_multi" in case else list(case["params"].items())
    path = url.path + (f"?{url.query}" if url.query else "")
    headers = {"X-Twilio-Signature": case["expected_signature"]}
    response = await client.post(path, data=pairs, headers=headers)
    assert response.status == (200 if case["valid"] else 403)
    tampered = [(key, value + "x") for key, value in pairs]
    response = await client.post(path, data=tampered, headers=headers)
    assert response.status == 403


@pytest.mark.parametrize("case", FORM_CASES, ids=[case["name"] for case in FORM_CASES])
@pytest.mark.parametrize("algorithm", ["HMAC_SHA1", "HMAC_SHA256"])
def test_the_fast_signature_is_twilios_own(case: dict[str, Any], algorithm: str) -> None:
    """The signature check's own HMAC gives RequestValidator's signature, and Twilio's vectors."""
    pairs = case["params_multi"] if "params_multi" in case else list(case["params"].items())
    # Values out of order, repeated, and beyond ASCII, to exercise the sort and the encoding.
    pairs = [*reversed(pairs), *pairs[:2], ("Caller", "+98 ۹۱۲ شماره"), ("Caller", "+1 212")]
    params = MultiDictProxy(MultiDict(pairs))
    token = VECTORS["auth_token"]
    ours = compute_signature(token.encode(), case["url"], params, algorithm)
    assert ours == RequestValidator(token).compute_signature(case["url"], params, algorithm)
    # The port cases were signed over another form of the URL (validate() tries both).
    if algorithm == "HMAC_SHA1" and "port" not in case["name"]:
        original = MultiDictProxy(MultiDict(case.get("params_multi") or case["params"]))
        expected = case["expected_signature"]
        assert compute_signature(token.encode(), case["url"], original, algorithm) == expected


async def test_a_real_captured_sms_body_becomes_an_item(
    aiohttp_client: Any,
    settings: Settings,
    store: Repository,
) -> None:
    captured = next(
        body
        for body in _load("real_captured_request_bodies_kevinburke_twilio-go.json")
        if body["name"] == "sms_incoming_real"
    )
    params = captured["body_parsed"]
    client = await aiohttp_client(create_app(settings, background=False))
    signature = twilio_signature(
        settings.twilio_auth_token, settings.public_url + "/twilio/sms", params
    )
    response = await client.post(
        "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status == 200
    item = store.get_item(1)
    assert item.body == "twilio-go testing!"
    assert item.external_id == params["MessageSid"]
    assert item.tenant_id is None  # +19253920364 is nobody's number here: kept unmatched


async def test_plugin_webhook_sample_call_is_answered_with_valid_twiml(
    aiohttp_client: Any,
    settings: Settings,
    store: Repository,
) -> None:
    sample = _load("plugin-webhook_sample_events/voice_incoming_call.json")
    params = {key: str(value) for key, value in sample["body"].items()}
    client = await aiohttp_client(create_app(settings, background=False))
    signature = twilio_signature(
        settings.twilio_auth_token, settings.public_url + "/twilio/voice", params
    )
    headers = {
        "X-Twilio-Signature": signature,
        "I-Twilio-Idempotency-Token": sample["headers"]["I-Twilio-Idempotency-Token"],
    }
    response = await client.post("/twilio/voice", data=params, headers=headers)
    assert response.status == 200
    body = await response.text()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    assert "<Record" in body  # a number nobody owns: a message for the supervisors


async def test_signature_is_checked_over_the_url_as_sent(aiohttp_client: Any) -> None:
    """Twilio signs the URL undecoded: an escaped query must be checked as it came."""

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app[TWILIO_SIGNATURE] = TwilioSignature("token", "https://m.example")
    app.router.add_post("/twilio/x", signed(ok))
    client = await aiohttp_client(app)
    path = "/twilio/x?name=a%20b%2Bc"
    params = {"CallSid": "CA1"}
    signature = twilio_signature("token", "https://m.example" + path, params)
    response = await client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status == 200
