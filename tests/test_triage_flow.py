"""Triage in the worker: SMS read, categorized, prioritized, spam set apart; corrections learned."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner
from sqlalchemy import select

from tests.factories import ACME_NUMBER, PARS_NUMBER, sms_params, twilio_signature
from triage.classify.model import save, train, training_files
from triage.classify.registry import ModelRegistry
from triage.cli import cli
from triage.settings import Settings
from triage.store.repository import Repository
from triage.store.tables import classification_corrections
from triage.web.app import create_app
from workers.main import run_worker


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, store: Repository
) -> AsyncIterator[TestClient[Any, Any]]:
    yield await aiohttp_client(create_app(settings, background=False))


async def send_sms(client: TestClient[Any, Any], settings: Settings, to: str, body: str) -> None:
    params = sms_params(to, "+989121112233", body)
    signature = twilio_signature(
        settings.twilio_auth_token, settings.public_url + "/twilio/sms", params
    )
    response = await client.post(
        "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status == 200


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_sms_is_read_before_anyone_sees_it(
    client: TestClient[Any, Any], settings: Settings, store: Repository
) -> None:
    await send_sms(
        client, settings, ACME_NUMBER, "URGENT: can I move my appointment to tomorrow at 3pm?"
    )
    await send_sms(client, settings, PARS_NUMBER, "سلام، فاکتور ماه قبل رو لطفاً بفرستید")
    assert run_worker(settings, burst=True)

    english = store.get_item(1)
    assert (english.category, english.language, english.pool) == (
        "scheduling",
        "en",
        "tenant:acme-dental",
    )
    assert english.priority.value in ("high", "urgent")
    assert english.triage is not None
    reasons = " | ".join(english.triage["reasons"])
    assert "URGENT" in reasons or "urgent" in reasons
    assert "model: scheduling" in reasons
    kinds = [entity["kind"] for entity in english.triage["entities"]]
    assert "datetime" in kinds
    assert english.triage["model_version"]

    persian = store.get_item(2)
    assert (persian.category, persian.language) == ("accounting", "fa")
    assert persian.confidence is not None and persian.confidence >= 0.45
    events = [event.kind for event in store.events(2)]
    assert events == ["received", "triaged", "queued"]


async def test_unclear_text_is_left_for_review_and_spam_set_apart(
    client: TestClient[Any, Any], settings: Settings, store: Repository
) -> None:
    await send_sms(client, settings, ACME_NUMBER, "ok")
    await send_sms(
        client,
        settings,
        ACME_NUMBER,
        "Congratulations! You've WON a $1000 gift card. Claim your prize now: bit.ly/x7Yq2",
    )
    run_worker(settings, burst=True)
    unclear = store.get_item(1)
    assert unclear.needs_review is True
    assert unclear.category is None  # not guessed
    assert unclear.pool == "tenant:acme-dental"  # still somebody's work
    spam = store.get_item(2)
    assert (spam.spam, spam.pool, spam.priority.value) == (True, "spam", "low")
    assert spam.category == "spam"
    sara = store.issue_token("sara")
    claimed = await client.post("/api/v1/queue/claim", headers=auth(sara))
    assert (await claimed.json())["id"] == 1  # never the spam


async def test_reclassify_keeps_the_correction_and_training_learns_from_it(
    client: TestClient[Any, Any],
    settings: Settings,
    store: Repository,
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    await send_sms(client, settings, ACME_NUMBER, "ok")
    run_worker(settings, burst=True)
    sara, reza = store.issue_token("sara"), store.issue_token("reza")
    url = "/api/v1/items/1/reclassify"
    assert (await client.post(url, json={"category": "nope"}, headers=auth(sara))).status == 400
    forbidden = await client.post(url, json={"category": "message"}, headers=auth(reza))
    assert forbidden.status == 403
    response = await client.post(
        url, json={"category": "message", "priority": "high"}, headers=auth(sara)
    )
    assert response.status == 200
    body = await response.json()
    assert (body["category"], body["priority"], body["needs_review"]) == ("message", "high", False)
    with store.engine.connect() as connection:
        rows = connection.execute(select(classification_corrections)).all()
    assert [(row.old_category, row.new_category, row.secretary_id) for row in rows] == [
        (None, "message", "sara")
    ]
    out = tmp_path / "models"
    result = CliRunner().invoke(
        cli, ["model", "train", "--out", str(out)], env={"DATABASE_URL": env["DATABASE_URL"]}
    )
    assert result.exit_code == 0, result.output
    assert "learning from 1 stored correction(s)" in result.output
    assert len(list(out.glob("model-*.joblib"))) == 1


def test_workers_pick_up_a_new_model_without_a_restart(tmp_path: Path, model_dir: Path) -> None:
    directory = tmp_path / "models"
    directory.mkdir()
    for path in model_dir.iterdir():
        (directory / path.name).write_bytes(path.read_bytes())
    registry = ModelRegistry(directory, check_every=0)
    first = registry.current().version
    assert registry.current().version == first
    from triage.classify.model import Example
    from triage.models import Category

    extra = [Example("zzqx quarterly zzqx", Category.ACCOUNTING, "en", "correction")]
    newer = train(training_files(), extra)
    save(newer, directory)
    assert newer.version != first
    assert registry.current().version == newer.version


def test_monshi_classify_prints_one_result_per_line(model_dir: Path) -> None:
    lines = [
        {"text": "Please send me a copy of the contract before 5 pm today"},
        {"text": "سلام، برای پس‌فردا ساعت ۴ بعدازظهر نوبت می‌خواستم", "channel": "sms"},
    ]
    stdin = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    result = CliRunner().invoke(
        cli, ["classify", "--model-dir", str(model_dir)], input=stdin, env={"DATABASE_URL": ""}
    )
    assert result.exit_code == 0, result.output
    outputs = [json.loads(line) for line in result.output.splitlines()]
    assert len(outputs) == 2
    for output in outputs:
        assert {
            "language",
            "category",
            "confidence",
            "priority",
            "spam",
            "entities",
            "reasons",
        } <= set(output)
    assert outputs[0]["language"] == "en"
    assert outputs[0]["category"] == "documents"
    assert outputs[1]["language"] == "fa"
    assert outputs[1]["category"] == "scheduling"
    assert any(entity["kind"] in ("datetime", "time") for entity in outputs[1]["entities"])


def test_monshi_classify_reports_bad_lines(model_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["classify", "--model-dir", str(model_dir)],
        input='{"text": "hello"}\nnot json\n',
        env={"DATABASE_URL": ""},
    )
    assert result.exit_code == 1
    assert '"line": 2' in result.output
