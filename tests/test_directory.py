"""The Directory snapshot: built from a config with plain values, loaded from both databases,
and the config version that tells a process its snapshot is stale."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import tomli_w
from sqlalchemy import select

from tests.conftest import REPO_ROOT
from tests.test_config import example_document, minimal, without
from triage.classify.rules import apply_rules
from triage.config import load_config, validate_config
from triage.directory import (
    AfterHours,
    Directory,
    IvrOption,
    VoiceSettings,
    build_directory,
)
from triage.errors import ConfigError, SchemaNotReady
from triage.models import Priority, Role
from triage.store.config_store import apply_config, apply_config_path
from triage.store.db import make_engine
from triage.store.directory_store import config_version, load_directory
from triage.store.repository import Repository
from triage.store.tables import agency

EXAMPLE = REPO_ROOT / "examples" / "agency.toml"
TEHRAN = ZoneInfo("Asia/Tehran")
NEW_YORK = ZoneInfo("America/New_York")
TORONTO = ZoneInfo("America/Toronto")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def example_directory(version: str = "7") -> Directory:
    return build_directory(load_config(EXAMPLE), version)


def write(tmp_path: Path, document: dict[str, Any], name: str = "agency.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


# -- built from a config, no database -----------------------------------------------


def test_every_number_finds_its_tenant() -> None:
    directory = example_directory()
    assert directory.version == "7"
    assert directory.agency_name == "Monshi Virtual Secretaries"
    assert directory.by_number == {
        "+982188776655": "pars-dental",
        "+982122334455": "pars-dental",
        "+12125550143": "hudson-law",
        "+14165550123": "caspian-travel",
        "+16475550199": "caspian-travel",
        "+13105550110": "alborz-home",
        "+18185550147": "alborz-home",
    }
    hudson = directory.tenant_for_number("+12125550143")
    assert hudson is not None and hudson.name == "Hudson & Park Law Office"
    assert directory.tenant_for_number("+12125550100") is None


def test_tenant_profiles_carry_sorted_assignments_and_sets() -> None:
    alborz = example_directory().tenants["alborz-home"]
    assert (alborz.primaries, alborz.backups) == (("david", "sara"), ("maryam", "reza"))
    assert alborz.vip_numbers == frozenset({"+13105550175", "+14245550123"})
    assert alborz.languages == ("en", "fa") and alborz.fallback_number == "+13105550186"
    assert alborz.greeting_in("fa") is not None and "البرز" in (alborz.greeting_in("fa") or "")
    pars = example_directory().tenants["pars-dental"]
    assert (pars.primaries, pars.backups) == (("maryam", "reza"), ("sara",))
    assert pars.languages == ("fa",)
    hudson = example_directory().tenants["hudson-law"]
    assert hudson.primaries == ("emily", "sara")  # the file lists sara first


def test_secretary_profiles() -> None:
    secretaries = example_directory().secretaries
    assert set(secretaries) == {"sara", "reza", "maryam", "emily", "david"}
    maryam = secretaries["maryam"]
    assert maryam.role is Role.SUPERVISOR and maryam.languages == ("fa", "en")
    assert maryam.skills == frozenset({"scheduling", "documents", "support", "spam"})
    assert (maryam.capacity, maryam.phone) == (4, "+989199876543")


def test_the_ivr_of_the_around_the_clock_tenant() -> None:
    alborz = example_directory().tenants["alborz-home"]
    assert alborz.ivr is not None
    assert alborz.ivr.options == {
        "0": IvrOption(skill="message"),
        "1": IvrOption(skill="scheduling"),
        "2": IvrOption(skill="support"),
        "3": IvrOption(skill="accounting"),
        "9": IvrOption(language="fa"),
    }
    assert alborz.ivr.timeout_seconds == 6 and alborz.ivr.prompt_audio is None
    assert "press 1" in (alborz.ivr_prompt_in("en") or "")
    assert "۹" in (alborz.ivr_prompt_in("fa") or "")
    assert alborz.speech_language("fa") == "fa-IR" and alborz.speech_language() == "en-US"
    others = example_directory().tenants
    assert [t.id for t in others.values() if t.ivr is not None] == ["alborz-home"]
    assert others["hudson-law"].ivr_prompt_in("en") is None


@pytest.mark.parametrize(
    ("tenant", "moment", "is_open"),
    [
        # Tehran: Saturday to Wednesday 9-17, Thursday 9-13, Friday closed, Nowruz off.
        ("pars-dental", datetime(2026, 11, 28, 10, 0, tzinfo=TEHRAN), True),  # Saturday
        ("pars-dental", datetime(2026, 11, 26, 12, 59, tzinfo=TEHRAN), True),  # Thursday
        ("pars-dental", datetime(2026, 11, 26, 13, 0, tzinfo=TEHRAN), False),
        ("pars-dental", datetime(2026, 11, 27, 10, 0, tzinfo=TEHRAN), False),  # Friday
        ("pars-dental", datetime(2026, 3, 21, 10, 0, tzinfo=TEHRAN), False),  # Nowruz
        # New York: Monday to Friday 9-17, Thanksgiving off; the same moment in UTC.
        ("hudson-law", datetime(2026, 11, 25, 16, 59, tzinfo=NEW_YORK), True),
        ("hudson-law", datetime(2026, 11, 25, 22, 0, tzinfo=ZoneInfo("UTC")), False),
        ("hudson-law", datetime(2026, 11, 26, 10, 0, tzinfo=NEW_YORK), False),
        ("hudson-law", datetime(2026, 11, 28, 10, 0, tzinfo=NEW_YORK), False),  # Saturday
        # Toronto: closed for lunch, Saturday mornings.
        ("caspian-travel", datetime(2026, 11, 23, 13, 30, tzinfo=TORONTO), False),
        ("caspian-travel", datetime(2026, 11, 23, 14, 0, tzinfo=TORONTO), True),
        ("caspian-travel", datetime(2026, 11, 28, 11, 0, tzinfo=TORONTO), True),
        ("caspian-travel", datetime(2026, 11, 29, 11, 0, tzinfo=TORONTO), False),  # Sunday
        # Around the clock, holidays included.
        ("alborz-home", datetime(2026, 12, 25, 3, 0, tzinfo=LOS_ANGELES), True),
        ("alborz-home", datetime(2026, 11, 29, 23, 59, tzinfo=LOS_ANGELES), True),
    ],
)
def test_hours_are_open_or_closed_in_the_tenants_time_zone(
    tenant: str, moment: datetime, is_open: bool
) -> None:
    assert example_directory().tenants[tenant].hours.is_open(moment) is is_open


def test_voice_settings_as_configured_or_defaulted() -> None:
    tenants = example_directory().tenants
    assert tenants["caspian-travel"].voice == VoiceSettings()
    hudson = tenants["hudson-law"].voice
    assert (hudson.after_hours, hudson.max_ring_seconds, hudson.ring_seconds) == (
        AfterHours.FORWARD,
        45,
        20,
    )
    pars = tenants["pars-dental"].voice
    assert (pars.after_hours, pars.on_call, pars.ring_seconds) == (
        AfterHours.ON_CALL,
        ("maryam",),
        25,
    )
    assert tenants["hudson-law"].say_language() == "en-US"


def test_a_tenant_without_hours_is_always_open_in_its_own_time_zone() -> None:
    directory = build_directory(validate_config(minimal()), "")
    pars = directory.tenants["pars-dental"]
    assert pars.hours.always_open and pars.hours.timezone == "Asia/Tehran"
    assert pars.hours.is_open(datetime(2026, 11, 27, 3, 0, tzinfo=TEHRAN))  # a Friday night
    assert (pars.voice, pars.ivr, pars.vip_numbers) == (VoiceSettings(), None, frozenset())
    assert pars.greeting is None and pars.greeting_in("en") is None
    assert pars.rules == ()


def test_profiles_carry_the_tenants_rules_in_file_order() -> None:
    tenants = example_directory().tenants
    pars, hudson = tenants["pars-dental"], tenants["hudson-law"]
    assert [rule.name for rule in pars.rules] == ["درد و اورژانس", "بیمه و صورتحساب", "lab results"]
    assert [rule.name for rule in hudson.rules] == [
        "court deadlines",
        "invoices to accounting",
        "opposing counsel calls",
    ]
    assert tenants["caspian-travel"].rules == ()
    # The rules in the snapshot are ready to run: an urgent, billing voicemail in Persian
    # typed with Arabic ي and ك gets the first rule's priority and the second's category.
    outcome = apply_rules(pars.rules, text="درد شديد دارم، سوال بيمه هم داشتم", subject="")
    assert (outcome.priority, outcome.category, outcome.secretary) == (
        Priority.URGENT,
        "accounting",
        "reza",
    )
    assert outcome.hits == (
        'rule "درد و اورژانس": keyword "درد شدید"',
        'rule "بیمه و صورتحساب": keyword "بیمه"',
    )
    call = apply_rules(hudson.rules, text="Call me back.", subject="", sender="+12125550177")
    assert (call.priority, call.skill) == (Priority.HIGH, "message")


# -- loaded from the database, with its version (SQLite and PostgreSQL) ------------------


def test_a_fresh_database_has_no_version_and_an_empty_directory(repo: Repository) -> None:
    assert config_version(repo.engine) == ""
    directory = load_directory(repo.engine)
    assert directory == Directory(version="", tenants={}, secretaries={}, by_number={})


def test_the_loaded_directory_is_the_one_built_from_the_file(repo: Repository) -> None:
    apply_config_path(repo.engine, EXAMPLE)
    version = config_version(repo.engine)
    assert version == "1"
    loaded = load_directory(repo.engine)
    assert loaded == example_directory(version)
    assert loaded.tenants["alborz-home"].ivr is not None
    assert len(loaded.tenants["pars-dental"].rules) == 3


def test_the_version_changes_with_every_real_change_and_only_then(
    repo: Repository, tmp_path: Path
) -> None:
    apply_config_path(repo.engine, EXAMPLE)
    first = config_version(repo.engine)

    assert not apply_config_path(repo.engine, EXAMPLE).applied
    assert apply_config_path(repo.engine, EXAMPLE, dry_run=True).changes == []
    assert config_version(repo.engine) == first

    document = example_document()
    document["tenants"][1]["voice"]["ring_seconds"] = 30
    dry = apply_config_path(repo.engine, write(tmp_path, document), dry_run=True)
    assert dry.changes == ["tenant changed: hudson-law (voice)"]
    assert config_version(repo.engine) == first

    apply_config_path(repo.engine, write(tmp_path, document))
    second = config_version(repo.engine)
    assert second not in ("", first)
    directory = load_directory(repo.engine)
    assert directory.version == second
    assert directory.tenants["hudson-law"].voice.ring_seconds == 30

    third_document = without(document, tenant="alborz-home")
    apply_config_path(repo.engine, write(tmp_path, third_document))
    third = config_version(repo.engine)
    assert third not in (first, second)
    directory = load_directory(repo.engine)
    assert "alborz-home" not in directory.tenants
    assert "+13105550110" not in directory.by_number


def test_an_invalid_file_leaves_the_version(repo: Repository, tmp_path: Path) -> None:
    apply_config_path(repo.engine, EXAMPLE)
    before = config_version(repo.engine)
    document = example_document()
    document["tenants"][0]["name"] = "Renamed"
    document["tenants"][3]["ivr"]["options"]["4"] = {"skill": "plumbing"}
    with pytest.raises(ConfigError):
        apply_config_path(repo.engine, write(tmp_path, document))
    assert config_version(repo.engine) == before


def test_the_version_is_not_part_of_the_agency_table_of_the_file(repo: Repository) -> None:
    config = validate_config(minimal())
    apply_config(repo.engine, config)
    with repo.engine.connect() as connection:
        stored = dict(connection.execute(select(agency.c.key, agency.c.value)).all())
    assert stored["version"] == 1
    assert load_directory(repo.engine) == build_directory(config, "1")


def test_an_unmigrated_database_is_named_as_such(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(SchemaNotReady, match="monshi db upgrade"):
            load_directory(engine)
    finally:
        engine.dispose()
