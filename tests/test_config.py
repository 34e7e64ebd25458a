"""The agency config file: validation with plain values, apply/export on both databases, CLI."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests.conftest import REPO_ROOT
from triage.cli import cli
from triage.config import load_config, parse_config, tenant_from_stored, validate_config
from triage.config_output import diff_configs, render_config, summarize_changes
from triage.directory import AfterHours, IvrOption, VoiceSettings
from triage.errors import ConfigError, SchemaNotReady
from triage.models import Channel, ItemStatus, Priority, Role
from triage.store.config_store import (
    apply_config_path,
    export_config_toml,
    load_current_config,
)
from triage.store.db import make_engine
from triage.store.repository import Repository
from triage.store.tables import (
    agency,
    assignments,
    secretaries,
    tenant_email_addresses,
    tenant_phone_numbers,
    tenants,
    work_items,
)

EXAMPLE = REPO_ROOT / "examples" / "agency.toml"
RULE_ACTIONS = {"category", "priority", "skill", "secretary"}
PARS_NAME = "کلینیک دندانپزشکی پارس"
CONFIG_TABLES = (
    agency,
    tenants,
    tenant_phone_numbers,
    tenant_email_addresses,
    secretaries,
    assignments,
    work_items,
)


def minimal() -> dict[str, Any]:
    """A small valid config as a TOML document: two tenants, two secretaries."""
    return {
        "agency": {"name": "Test Agency", "inbox": "inbox@agency.example"},
        "tenants": [
            {
                "id": "acme-dental",
                "name": "Acme Dental",
                "language": "en",
                "timezone": "America/New_York",
                "phone_numbers": ["+12125550143"],
                "email_addresses": ["info@acmedental.example"],
                "secretaries": ["sara"],
                "backups": ["reza"],
            },
            {
                "id": "pars-dental",
                "name": PARS_NAME,
                "language": "fa",
                "timezone": "Asia/Tehran",
                "phone_numbers": ["+982188776655"],
                "secretaries": ["reza"],
            },
        ],
        "secretaries": [
            {
                "id": "sara",
                "name": "Sara Ahmadi",
                "role": "secretary",
                "languages": ["fa", "en"],
                "skills": ["scheduling", "accounting"],
                "capacity": 3,
                "phone": "+989121234567",
            },
            {
                "id": "reza",
                "name": "Reza Karimi",
                "role": "supervisor",
                "languages": ["fa"],
                "skills": [],
                "capacity": 2,
                "phone": "+989123456789",
            },
        ],
    }


def problems_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        validate_config(document)
    return raised.value.problems


def example_document() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def write(tmp_path: Path, document: dict[str, Any], name: str = "agency.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of the tables a config touches, in a comparable form."""
    with engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in CONFIG_TABLES
        }


def table_rows(engine: Engine, table: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(table)).all())


# -- validation with plain values --------------------------------------------------


def test_the_example_is_valid_and_covers_the_documented_cases() -> None:
    config = load_config(EXAMPLE)
    assert config.agency is not None
    by_id = {tenant.id: tenant for tenant in config.tenants}
    assert len(by_id) >= 3
    persian = by_id["pars-dental"]
    assert (persian.language, persian.timezone, persian.name) == ("fa", "Asia/Tehran", PARS_NAME)
    assert persian.greeting is not None and "پارس" in persian.greeting
    assert all(number.startswith("+9821") for number in persian.phone_numbers)
    assert any(t.language == "en" and t.languages == ("en",) for t in config.tenants)
    bilingual = [t for t in config.tenants if set(t.languages) == {"fa", "en"}]
    assert bilingual and bilingual[0].greetings
    people = {secretary.id: secretary for secretary in config.secretaries}
    assert len(people) == 5 and {"sara", "reza", "maryam"} <= people.keys()
    assert Role.SUPERVISOR in {secretary.role for secretary in people.values()}
    assert len({secretary.capacity for secretary in people.values()}) > 1


def test_minimal_config_parses_with_defaults() -> None:
    config = validate_config(minimal())
    acme = config.tenants[0]
    assert acme.languages == ("en",) and acme.greeting is None and acme.vip_numbers == ()
    assert config.secretaries[1].role is Role.SUPERVISOR


def set_in(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def remove(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


T0, T1, S0, S1 = ("tenants", 0), ("tenants", 1), ("secretaries", 0), ("secretaries", 1)

MISTAKES = [
    ("unknown top-level key", set_in(("agencies",), {}), "agencies: unknown key"),
    (
        "unknown tenant key",
        set_in((*T0, "greating"), "hi"),
        'tenants[0].greating: unknown key; did you mean "greeting"?',
    ),
    ("unknown secretary key", set_in((*S1, "email"), "r@x.example"), "secretaries[1].email: "),
    ("unknown agency key", set_in(("agency", "phone"), "+12125550143"), "agency.phone: unknown"),
    ("missing agency", remove(("agency",)), "agency: required key is missing"),
    ("empty agency", set_in(("agency",), {}), "agency.name: required key is missing"),
    ("agency not a table", set_in(("agency",), "Monshi"), "agency: expected a table, got a string"),
    ("missing tenants", remove(("tenants",)), "tenants: required key is missing"),
    ("missing timezone", remove((*T1, "timezone")), "tenants[1].timezone: required key is missing"),
    ("missing phone", remove((*S0, "phone")), "secretaries[0].phone: required key is missing"),
    (
        "national number",
        set_in((*T1, "phone_numbers"), ["09121234567"]),
        'tenants[1].phone_numbers[0]: "09121234567" is not an E.164 number',
    ),
    (
        "number with spaces",
        set_in((*T0, "phone_numbers"), ["+1 212 555 0143"]),
        'tenants[0].phone_numbers[0]: "+1 212 555 0143" is not an E.164 number '
        '(write it as "+12125550143")',
    ),
    (
        "invalid number",
        set_in((*T0, "phone_numbers"), ["+15550100001"]),
        'tenants[0].phone_numbers[0]: "+15550100001" is not an E.164 number (not a valid number)',
    ),
    (
        "secretary phone not E.164",
        set_in((*S0, "phone"), "0912 123 4567"),
        'secretaries[0].phone: "0912 123 4567" is not an E.164 number',
    ),
    (
        "undefined secretary",
        set_in((*T1, "secretaries"), ["reza", "nima"]),
        'tenants[1].secretaries[1]: secretary "nima" is not defined in [[secretaries]]',
    ),
    (
        "undefined backup",
        set_in((*T0, "backups"), ["sarah"]),
        'tenants[0].backups[0]: secretary "sarah" is not defined in [[secretaries]]; '
        'did you mean "sara"?',
    ),
    (
        "number claimed by two tenants",
        set_in((*T1, "phone_numbers"), ["+982188776655", "+12125550143"]),
        'tenants[1].phone_numbers[1]: "+12125550143" is already claimed by tenant "acme-dental" '
        "at tenants[0].phone_numbers[0]",
    ),
    (
        "address claimed by two tenants, in another case",
        set_in((*T1, "email_addresses"), ["Info@AcmeDental.example"]),
        'tenants[1].email_addresses[0]: "Info@AcmeDental.example" is already claimed by tenant '
        '"acme-dental"',
    ),
    (
        "number listed twice",
        set_in((*T0, "phone_numbers"), ["+12125550143", "+12125550143"]),
        'tenants[0].phone_numbers[1]: "+12125550143" is listed twice '
        "(first at tenants[0].phone_numbers[0])",
    ),
    (
        "bad time zone",
        set_in((*T0, "timezone"), "America/NewYork"),
        'tenants[0].timezone: "America/NewYork" is not a known time zone',
    ),
    (
        "time zone directory",
        set_in((*T0, "timezone"), "America"),
        'tenants[0].timezone: "America" is not a known time zone',
    ),
    (
        "bad tenant language",
        set_in((*T0, "language"), "de"),
        'tenants[0].language: "de" is not a supported language (one of: fa, en)',
    ),
    (
        "bad secretary language",
        set_in((*S0, "languages"), ["fa", "ar"]),
        'secretaries[0].languages[1]: "ar" is not a supported language',
    ),
    (
        "no secretary language",
        set_in((*S0, "languages"), []),
        "secretaries[0].languages: must list at least one language",
    ),
    (
        "bad role",
        set_in((*S0, "role"), "manager"),
        'secretaries[0].role: "manager" is not a role (one of: secretary, supervisor, admin)',
    ),
    ("capacity 0", set_in((*S0, "capacity"), 0), "secretaries[0].capacity: must be at least 1"),
    (
        "capacity as text",
        set_in((*S0, "capacity"), "3"),
        "secretaries[0].capacity: expected an integer, got a string",
    ),
    (
        "capacity as boolean",
        set_in((*S1, "capacity"), True),
        "secretaries[1].capacity: expected an integer, got a boolean",
    ),
    (
        "bad skill",
        set_in((*S0, "skills"), ["scheduling", "schedulng"]),
        'secretaries[0].skills[1]: "schedulng" is not a skill',
    ),
    (
        "duplicate tenant id",
        set_in((*T1, "id"), "acme-dental"),
        'tenants[1].id: "acme-dental" is defined twice (first at tenants[0])',
    ),
    (
        "duplicate secretary id",
        set_in((*S1, "id"), "sara"),
        'secretaries[1].id: "sara" is defined twice (first at secretaries[0])',
    ),
    (
        "id not a slug",
        set_in((*T0, "id"), "Acme_Dental"),
        'tenants[0].id: "Acme_Dental" is not a slug',
    ),
    (
        "secretary id not a slug",
        set_in((*S0, "id"), "sara "),
        'secretaries[0].id: "sara " is not a slug',
    ),
    (
        "primary and backup",
        set_in((*T0, "backups"), ["sara"]),
        'tenants[0].backups[0]: "sara" is already a primary secretary of this tenant',
    ),
    (
        "bad email",
        set_in((*T0, "email_addresses"), ["info@acme dental.example"]),
        'tenants[0].email_addresses[0]: "info@acme dental.example" is not an email address',
    ),
    (
        "email without domain",
        set_in((*T0, "email_addresses"), ["info@"]),
        'tenants[0].email_addresses[0]: "info@" is not an email address',
    ),
    (
        "tenant address is the inbox",
        set_in((*T0, "email_addresses"), ["Inbox@agency.example"]),
        'tenants[0].email_addresses[0]: "Inbox@agency.example" is the agency inbox itself',
    ),
    (
        "inbox with a plus-tag",
        set_in(("agency", "inbox"), "inbox+x@agency.example"),
        'agency.inbox: "inbox+x@agency.example" must not carry a +tag',
    ),
    ("empty name", set_in((*T0, "name"), "  "), "tenants[0].name: must not be empty"),
    (
        "numbers as one string",
        set_in((*T0, "phone_numbers"), "+12125550143"),
        "tenants[0].phone_numbers: expected an array of strings, got a string",
    ),
    (
        "number as integer",
        set_in((*T0, "phone_numbers"), [12125550143]),
        "tenants[0].phone_numbers[0]: expected a string, got an integer",
    ),
    (
        "tenants as a table",
        set_in(("tenants",), {"id": "x"}),
        "tenants: expected an array of tables ([[tenants]])",
    ),
    (
        "languages not starting with language",
        set_in((*T1, "languages"), ["en", "fa"]),
        'tenants[1].languages[0]: the first language must be the tenant\'s language "fa"',
    ),
    (
        "greeting in a language the tenant does not serve",
        set_in((*T1, "greetings"), {"en": "Hello"}),
        'tenants[1].greetings.en: "en" is not one of the tenant\'s other languages',
    ),
    (
        "main-language greeting in greetings",
        set_in((*T1, "greetings"), {"fa": "سلام"}),
        'tenants[1].greetings.fa: the greeting in the main language "fa" goes in greeting',
    ),
    (
        "fallback is an agency number",
        set_in((*T1, "fallback_number"), "+12125550143"),
        'tenants[1].fallback_number: "+12125550143" is a number of tenant "acme-dental"',
    ),
    (
        "secretary phone is an agency number",
        set_in((*S1, "phone"), "+982188776655"),
        'secretaries[1].phone: "+982188776655" is a number of tenant "pars-dental"',
    ),
    (
        "VIP number not E.164",
        set_in((*T0, "vip_numbers"), ["+12125550199", "2125550100"]),
        'tenants[0].vip_numbers[1]: "2125550100" is not an E.164 number',
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=name) for name, mutate, expected in MISTAKES],
)
def test_each_mistake_is_reported_with_its_path(
    mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    document = minimal()
    mutate(document)
    problems = problems_of(document)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_mistake_in_a_file_is_reported_not_just_the_first() -> None:
    document = minimal()
    document["tenants"][0]["timezone"] = "Mars/Olympus"
    document["tenants"][1]["secretaries"] = ["nima"]
    document["tenants"][1]["phone_numbers"] = ["0912 123 4567"]
    problems = problems_of(document)
    assert [problem.split(":")[0] for problem in problems] == [
        "tenants[0].timezone",
        "tenants[1].phone_numbers[0]",
        "tenants[1].secretaries[0]",
    ]


def test_extra_tenant_keys_are_accepted() -> None:
    document = minimal()
    document["tenants"][1].update(
        languages=["fa", "en"],
        greeting="سلام، با کلینیک پارس تماس گرفته‌اید.",
        greetings={"en": "Hello, you have reached Pars Dental."},
        fallback_number="+982166554433",
        vip_numbers=["+989351112233"],
    )
    pars = validate_config(document).tenants[1]
    assert pars.languages == ("fa", "en")
    assert pars.greetings == {"en": "Hello, you have reached Pars Dental."}
    assert pars.settings()["fallback_number"] == "+982166554433"
    assert pars.settings()["greeting"] == "سلام، با کلینیک پارس تماس گرفته‌اید."


def test_email_addresses_are_lowercased() -> None:
    document = minimal()
    document["tenants"][0]["email_addresses"] = ["Info@AcmeDental.Example"]
    document["agency"]["inbox"] = "Inbox@Agency.example"
    config = validate_config(document)
    assert config.tenants[0].email_addresses == ("info@acmedental.example",)
    assert config.agency is not None and config.agency.inbox == "inbox@agency.example"


def test_toml_syntax_error_reports_line_and_column() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config('[agency]\nname = "x"\ninbox = \n', source="agency.toml")
    (problem,) = raised.value.problems
    assert problem.startswith("agency.toml: TOML syntax error:")
    assert "line 3, column 9" in problem


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "agency.toml"
    path.write_bytes(b'[agency]\nname = "Pars"\n' + "آژانس".encode("utf-16"))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "not UTF-8" in raised.value.problems[0]


def test_render_then_parse_gives_the_same_config_with_persian_kept_as_is() -> None:
    config = load_config(EXAMPLE)
    text = render_config(config)
    assert PARS_NAME in text and "\\u" not in text
    again = parse_config(text)
    assert diff_configs(config, again) == []
    assert render_config(again) == text
    assert {t.id: t.greetings for t in again.tenants} == {t.id: t.greetings for t in config.tenants}


def test_an_empty_config_renders_as_toml_that_parses() -> None:
    document = minimal()
    document["tenants"], document["secretaries"] = [], []
    config = validate_config(document)
    assert parse_config(render_config(config)) == config


def test_diff_names_each_change() -> None:
    old = validate_config(minimal())
    document = minimal()
    document["tenants"][0]["timezone"] = "America/Chicago"
    document["tenants"][0]["phone_numbers"] = []
    document["tenants"][1]["phone_numbers"].append("+12125550143")
    document["tenants"][0]["secretaries"], document["tenants"][0]["backups"] = ["reza"], ["sara"]
    document["secretaries"][0]["capacity"] = 5
    new = validate_config(document)
    changes = diff_configs(old, new)
    assert [str(change) for change in changes] == [
        "tenant changed: acme-dental (timezone)",
        "secretary changed: sara (capacity)",
        "phone number moved: +12125550143 from acme-dental to pars-dental",
        "assignment changed: reza on acme-dental, backup -> primary",
        "assignment changed: sara on acme-dental, primary -> backup",
    ]
    assert summarize_changes(changes) == (
        "1 tenant changed, 1 secretary changed, 1 phone number moved, 2 assignments changed"
    )
    assert diff_configs(new, new) == []


# -- call handling: [tenants.hours], [tenants.voice], [tenants.ivr] --------------------

WEEKDAY_HOURS = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}
ACME_IVR = {
    "prompt": "For appointments press 1, for billing press 2.",
    "options": {"1": {"skill": "scheduling"}, "2": {"skill": "accounting"}},
}


def with_call_keys(
    hours: dict[str, Any] | None = None,
    voice: dict[str, Any] | None = None,
    ivr: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """minimal() with these tables on acme-dental (an English tenant without fallback)."""
    document = minimal()
    for key, table in (("hours", hours), ("voice", voice), ("ivr", ivr)):
        if table is not None:
            document["tenants"][0][key] = table
    return document


def call_mistake(table: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set acme-dental's `table` ("hours", "voice", "ivr") to `value`, valid around it."""
    return set_in((*T0, table), value)


CALL_MISTAKES = [
    # [tenants.hours]
    ("hours not a table", call_mistake("hours", "9-5"), "tenants[0].hours: expected a table"),
    (
        "unknown day",
        call_mistake("hours", {"monday": "09:00-17:00", "tue": "09:00-17:00"}),
        'tenants[0].hours.monday: unknown key; did you mean "mon"?',
    ),
    (
        "time without minutes",
        call_mistake("hours", {"mon": "9-17"}),
        "tenants[0].hours.mon: '9' is not a time like 09:30",
    ),
    (
        "range ending before it starts",
        call_mistake("hours", {"mon": "17:00-09:00"}),
        "tenants[0].hours.mon: '17:00-09:00' ends before it starts",
    ),
    (
        "overlapping ranges",
        call_mistake("hours", {"mon": "09:00-13:00, 12:00-18:00"}),
        "tenants[0].hours.mon: '12:00-18:00' overlaps",
    ),
    (
        "day as a number",
        call_mistake("hours", {"mon": 9}),
        'tenants[0].hours.mon: must be a string like "09:00-17:00"',
    ),
    (
        "every day closed",
        call_mistake("hours", {"mon": "closed", "sun": "Closed"}),
        "tenants[0].hours: every day is closed",
    ),
    (
        "holidays but no days",
        call_mistake("hours", {"holidays": ["2026-01-01"]}),
        "tenants[0].hours: give the opening hours of at least one day",
    ),
    (
        "holiday that does not exist",
        call_mistake("hours", {**WEEKDAY_HOURS, "holidays": ["2026-01-01", "2026-02-30"]}),
        'tenants[0].hours.holidays[1]: "2026-02-30" is not a date like "2026-03-20"',
    ),
    (
        "holiday in basic ISO form",
        call_mistake("hours", {**WEEKDAY_HOURS, "holidays": ["20260101"]}),
        'tenants[0].hours.holidays[0]: "20260101" is not a date',
    ),
    (
        "holiday listed twice",
        call_mistake("hours", {**WEEKDAY_HOURS, "holidays": ["2026-12-25", "2026-12-25"]}),
        "tenants[0].hours.holidays[1]: 2026-12-25 is listed twice "
        "(first at tenants[0].hours.holidays[0])",
    ),
    (
        "holidays as one string",
        call_mistake("hours", {**WEEKDAY_HOURS, "holidays": "2026-12-25"}),
        "tenants[0].hours.holidays: expected an array of dates, got a string",
    ),
    (
        "always_open as text",
        call_mistake("hours", {"always_open": "yes"}),
        "tenants[0].hours.always_open: expected a boolean (true or false), got a string",
    ),
    (
        "always_open with days",
        call_mistake("hours", {**WEEKDAY_HOURS, "always_open": True}),
        "tenants[0].hours: always_open = true takes no days or holidays",
    ),
    # [tenants.voice]
    ("voice not a table", call_mistake("voice", "alice"), "tenants[0].voice: expected a table"),
    ("unknown voice key", call_mistake("voice", {"ring": 20}), "tenants[0].voice.ring: unknown"),
    (
        "greeting audio over http",
        call_mistake("voice", {"greeting_audio": "http://acme.example/hello.mp3"}),
        'tenants[0].voice.greeting_audio: "http://acme.example/hello.mp3" is not an https URL',
    ),
    (
        "greeting audio as a path",
        call_mistake("voice", {"greeting_audio": "/audio/hello.mp3"}),
        'tenants[0].voice.greeting_audio: "/audio/hello.mp3" is not an https URL',
    ),
    (
        "greeting audio without a host",
        call_mistake("voice", {"greeting_audio": "https:///hello.mp3"}),
        'tenants[0].voice.greeting_audio: "https:///hello.mp3" is not an https URL (no host)',
    ),
    (
        "voice name with a space",
        call_mistake("voice", {"say_voice": "Polly Joanna"}),
        'tenants[0].voice.say_voice: "Polly Joanna" is not a voice name',
    ),
    (
        "say language without a region",
        call_mistake("voice", {"say_language": "english"}),
        'tenants[0].voice.say_language: "english" is not a language tag with a region',
    ),
    (
        "speech language with an underscore",
        call_mistake("voice", {"speech_language": "en_US"}),
        'tenants[0].voice.speech_language: "en_US" is not a language tag',
    ),
    (
        "speech language of another language",
        call_mistake("voice", {"speech_language": "fa-IR"}),
        'tenants[0].voice.speech_language: "fa-IR" is not in the tenant\'s language "en"',
    ),
    (
        "ring too short",
        call_mistake("voice", {"ring_seconds": 4}),
        "tenants[0].voice.ring_seconds: must be from 5 to 120, got 4",
    ),
    (
        "ring too long",
        call_mistake("voice", {"ring_seconds": 121, "max_ring_seconds": 600}),
        "tenants[0].voice.ring_seconds: must be from 5 to 120, got 121",
    ),
    (
        "ring as text",
        call_mistake("voice", {"ring_seconds": "20"}),
        "tenants[0].voice.ring_seconds: expected an integer, got a string",
    ),
    (
        "no attempts",
        call_mistake("voice", {"max_attempts": 0}),
        "tenants[0].voice.max_attempts: must be from 1 to 10, got 0",
    ),
    (
        "too many attempts",
        call_mistake("voice", {"max_attempts": 11}),
        "tenants[0].voice.max_attempts: must be from 1 to 10, got 11",
    ),
    (
        "total ring too short",
        call_mistake("voice", {"max_ring_seconds": 9, "ring_seconds": 5}),
        "tenants[0].voice.max_ring_seconds: must be from 10 to 600, got 9",
    ),
    (
        "total ring too long",
        call_mistake("voice", {"max_ring_seconds": 601}),
        "tenants[0].voice.max_ring_seconds: must be from 10 to 600, got 601",
    ),
    (
        "total ring under one ring",
        call_mistake("voice", {"ring_seconds": 30, "max_ring_seconds": 20}),
        "tenants[0].voice.max_ring_seconds: 20 is less than ring_seconds (30)",
    ),
    (
        "negative wrap-up",
        call_mistake("voice", {"wrap_up_seconds": -1}),
        "tenants[0].voice.wrap_up_seconds: must be from 0 to 900, got -1",
    ),
    (
        "wrap-up too long",
        call_mistake("voice", {"wrap_up_seconds": 901}),
        "tenants[0].voice.wrap_up_seconds: must be from 0 to 900, got 901",
    ),
    (
        "voicemail too short",
        call_mistake("voice", {"voicemail_max_seconds": 9}),
        "tenants[0].voice.voicemail_max_seconds: must be from 10 to 600, got 9",
    ),
    (
        "voicemail too long",
        call_mistake("voice", {"voicemail_max_seconds": 601}),
        "tenants[0].voice.voicemail_max_seconds: must be from 10 to 600, got 601",
    ),
    (
        "unknown after-hours policy",
        call_mistake("voice", {"after_hours": "hang_up"}),
        'tenants[0].voice.after_hours: "hang_up" is not a policy '
        "(one of: voicemail, forward, on_call)",
    ),
    (
        "forward without a fallback number",
        call_mistake("voice", {"after_hours": "forward"}),
        'tenants[0].voice.after_hours: "forward" rings the tenant\'s fallback_number, '
        "which is not set",
    ),
    (
        "on call without anyone",
        call_mistake("voice", {"after_hours": "on_call"}),
        'tenants[0].voice.on_call: must list at least one secretary when after_hours is "on_call"',
    ),
    (
        "on call with an empty list",
        call_mistake("voice", {"after_hours": "on_call", "on_call": []}),
        "tenants[0].voice.on_call: must list at least one secretary",
    ),
    (
        "undefined on-call secretary",
        call_mistake("voice", {"after_hours": "on_call", "on_call": ["sara", "sarah"]}),
        'tenants[0].voice.on_call[1]: secretary "sarah" is not defined in [[secretaries]]; '
        'did you mean "sara"?',
    ),
    (
        "on-call secretary listed twice",
        call_mistake("voice", {"on_call": ["reza", "reza"]}),
        'tenants[0].voice.on_call[1]: "reza" is listed twice',
    ),
    # [tenants.ivr]
    ("ivr not a table", call_mistake("ivr", "press 1"), "tenants[0].ivr: expected a table"),
    (
        "ivr without a prompt",
        call_mistake("ivr", {"options": ACME_IVR["options"]}),
        "tenants[0].ivr.prompt: required key is missing",
    ),
    (
        "ivr without options",
        call_mistake("ivr", {"prompt": "Press 1."}),
        "tenants[0].ivr.options: required key is missing",
    ),
    (
        "ivr with no option",
        call_mistake("ivr", {**ACME_IVR, "options": {}}),
        "tenants[0].ivr.options: must map at least one digit",
    ),
    (
        "blank prompt",
        call_mistake("ivr", {**ACME_IVR, "prompt": " "}),
        "tenants[0].ivr.prompt: must not be empty",
    ),
    (
        "English prompt of a Persian tenant",
        set_in((*T1, "ivr"), {"prompt": "For appointments press 1.", "options": {"1": {}}}),
        "tenants[1].ivr.prompt: has no Arabic letters; write it in the tenant's language",
    ),
    (
        "prompt in a language the tenant does not serve",
        call_mistake("ivr", {**ACME_IVR, "prompts": {"fa": "برای فارسی ۲"}}),
        'tenants[0].ivr.prompts.fa: "fa" is not one of the tenant\'s other languages',
    ),
    (
        "main-language prompt in prompts",
        call_mistake("ivr", {**ACME_IVR, "prompts": {"en": "Press 1."}}),
        'tenants[0].ivr.prompts.en: the prompt in the main language "en" goes in prompt',
    ),
    (
        "prompt audio over http",
        call_mistake("ivr", {**ACME_IVR, "prompt_audio": "http://acme.example/menu.mp3"}),
        'tenants[0].ivr.prompt_audio: "http://acme.example/menu.mp3" is not an https URL',
    ),
    (
        "no time to answer",
        call_mistake("ivr", {**ACME_IVR, "timeout_seconds": 0}),
        "tenants[0].ivr.timeout_seconds: must be from 1 to 30, got 0",
    ),
    (
        "too long to answer",
        call_mistake("ivr", {**ACME_IVR, "timeout_seconds": 31}),
        "tenants[0].ivr.timeout_seconds: must be from 1 to 30, got 31",
    ),
    (
        "two digits",
        call_mistake("ivr", {**ACME_IVR, "options": {"10": {"skill": "sales"}}}),
        'tenants[0].ivr.options.10: "10" is not a single digit 0-9',
    ),
    (
        "star key",
        call_mistake("ivr", {**ACME_IVR, "options": {"*": {"skill": "sales"}}}),
        'tenants[0].ivr.options.*: "*" is not a single digit 0-9',
    ),
    (
        "option as a bare skill",
        call_mistake("ivr", {**ACME_IVR, "options": {"1": "scheduling"}}),
        "tenants[0].ivr.options.1: expected a table, got a string",
    ),
    (
        "option choosing nothing",
        call_mistake("ivr", {**ACME_IVR, "options": {"1": {}}}),
        "tenants[0].ivr.options.1: must choose a skill, a language, or both",
    ),
    (
        "misspelt option key",
        call_mistake("ivr", {**ACME_IVR, "options": {"1": {"skil": "sales"}}}),
        'tenants[0].ivr.options.1.skil: unknown key; did you mean "skill"?',
    ),
    (
        "unknown skill",
        call_mistake("ivr", {**ACME_IVR, "options": {"3": {"skill": "billing"}}}),
        'tenants[0].ivr.options.3.skill: "billing" is not a skill (one of: scheduling, travel',
    ),
    (
        "spam is not for callers",
        call_mistake("ivr", {**ACME_IVR, "options": {"9": {"skill": "spam"}}}),
        'tenants[0].ivr.options.9.skill: "spam" is not a skill',
    ),
    (
        "language the tenant does not serve",
        call_mistake("ivr", {**ACME_IVR, "options": {"2": {"language": "fa"}}}),
        'tenants[0].ivr.options.2.language: "fa" is not a language the tenant serves (en)',
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=name) for name, mutate, expected in CALL_MISTAKES],
)
def test_each_call_handling_mistake_is_reported_with_its_path(
    mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    document = minimal()
    mutate(document)
    problems = problems_of(document)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_call_handling_mistake_is_reported_at_once() -> None:
    document = with_call_keys(
        hours={"mon": "9-17", "holidays": ["2026-02-30"]},
        voice={"ring_seconds": 200, "after_hours": "forward", "on_call": ["nima"]},
        ivr={"prompt": "Press 1.", "options": {"1": {"skill": "billing"}, "x": {}}},
    )
    document["tenants"][1]["voice"] = {"say_language": "en-US"}
    problems = problems_of(document)
    assert [problem.split(":")[0] for problem in problems] == [
        "tenants[0].hours.holidays[0]",
        "tenants[0].hours.mon",
        "tenants[0].voice.ring_seconds",
        "tenants[0].voice.on_call[0]",
        "tenants[0].voice.after_hours",
        "tenants[0].ivr.options.1.skill",
        "tenants[0].ivr.options.x",
        "tenants[1].voice.say_language",
    ]


def test_call_handling_keys_parse_into_the_directory_types() -> None:
    document = with_call_keys(
        hours={**WEEKDAY_HOURS, "fri": "09:00-12:00, 13:00-16:00", "holidays": ["2026-12-25"]},
        voice={
            "greeting_audio": "https://acme.example/audio/hello.mp3",
            "say_voice": "Polly.Joanna",
            "say_language": "en-US",
            "speech_language": "en-GB",
            "ring_seconds": 15,
            "max_attempts": 4,
            "max_ring_seconds": 90,
            "wrap_up_seconds": 0,
            "voicemail_max_seconds": 300,
            "after_hours": "on_call",
            "on_call": ["reza", "sara"],
        },
        ivr={
            "prompt": "For appointments press 1. For billing press 2.",
            "prompt_audio": "https://acme.example/audio/menu.mp3",
            "timeout_seconds": 8,
            "options": {"2": {"skill": "accounting"}, "1": {"skill": "scheduling"}},
        },
    )
    acme = validate_config(document).tenants[0]
    assert acme.hours is not None and acme.hours.timezone == "America/New_York"
    assert acme.hours.weekly[4] == ((time(9), time(12)), (time(13), time(16)))
    assert 5 not in acme.hours.weekly and acme.hours.holidays == {date(2026, 12, 25)}
    assert acme.voice == VoiceSettings(
        greeting_audio="https://acme.example/audio/hello.mp3",
        say_voice="Polly.Joanna",
        say_language="en-US",
        speech_language="en-GB",
        ring_seconds=15,
        max_attempts=4,
        max_ring_seconds=90,
        wrap_up_seconds=0,
        voicemail_max_seconds=300,
        after_hours=AfterHours.ON_CALL,
        on_call=("reza", "sara"),
    )
    assert acme.ivr is not None
    assert (acme.ivr.prompt_audio, acme.ivr.timeout_seconds) == (
        "https://acme.example/audio/menu.mp3",
        8,
    )
    assert list(acme.ivr.options.items()) == [
        ("1", IvrOption(skill="scheduling")),
        ("2", IvrOption(skill="accounting")),
    ]


def test_without_call_handling_keys_a_tenant_is_always_open_with_default_voice() -> None:
    acme = validate_config(minimal()).tenants[0]
    assert (acme.hours, acme.voice, acme.ivr) == (None, VoiceSettings(), None)
    settings = acme.settings()
    assert (settings["hours"], settings["voice"], settings["ivr"]) == (None, {}, None)


def test_a_bilingual_ivr_takes_a_language_digit_and_a_prompt_per_language() -> None:
    document = minimal()
    document["tenants"][1].update(
        languages=["fa", "en"],
        ivr={
            "prompt": "برای نوبت دهی ۱ را بگیرید.",
            "prompts": {"en": "For English, press 9."},
            "options": {"1": {"skill": "scheduling"}, "9": {"language": "en"}},
        },
        voice={"say_language": "fa-IR", "on_call": ["sara"]},
    )
    pars = validate_config(document).tenants[1]
    assert pars.ivr is not None and pars.ivr.prompts == {"en": "For English, press 9."}
    assert pars.ivr.options["9"] == IvrOption(language="en")
    # on_call may be prepared while after_hours is still the default voicemail.
    assert (pars.voice.after_hours, pars.voice.on_call) == (AfterHours.VOICEMAIL, ("sara",))


def test_holidays_may_be_toml_dates_and_closed_days_may_be_left_out() -> None:
    spelled_out = parse_config(
        render_config(validate_config(minimal()))
        + '[tenants.hours]\nmon = "09:00-17:00"\nsat = "closed"\nsun = "CLOSED"\n'
        "holidays = [2026-12-25]\n"
    )
    document = minimal()
    document["tenants"][1]["hours"] = {"mon": "09:00-17:00", "holidays": ["2026-12-25"]}
    left_out = validate_config(document)
    assert spelled_out.tenants[1].hours == left_out.tenants[1].hours
    assert diff_configs(spelled_out, left_out) == []


def test_a_holiday_given_as_a_toml_date_time_is_refused() -> None:
    text = render_config(validate_config(minimal())) + (
        '[tenants.hours]\nmon = "09:00-17:00"\nholidays = [2026-12-25T00:00:00]\n'
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert raised.value.problems == [
        'tenants[1].hours.holidays[0]: "2026-12-25 00:00:00" is not a date like "2026-03-20"'
    ]


def test_settings_hold_the_call_keys_and_read_back_equal() -> None:
    document = with_call_keys(
        hours={**WEEKDAY_HOURS, "sat": "closed", "holidays": ["2026-12-25", "2026-07-03"]},
        voice={"ring_seconds": 25, "after_hours": "on_call", "on_call": ["reza"]},
        ivr={**ACME_IVR, "timeout_seconds": 7},
    )
    acme = validate_config(document).tenants[0]
    settings = acme.settings()
    assert settings["hours"] == {
        **WEEKDAY_HOURS,
        "holidays": ["2026-07-03", "2026-12-25"],
        "always_open": False,
    }
    # Only what differs from the defaults: a later default reaches tenants that never set it.
    assert settings["voice"] == {"ring_seconds": 25, "after_hours": "on_call", "on_call": ["reza"]}
    assert settings["ivr"]["options"] == {
        "1": {"skill": "scheduling"},
        "2": {"skill": "accounting"},
    }
    stored = json.loads(json.dumps(settings))  # what the JSON column gives back
    again = tenant_from_stored(
        id=acme.id,
        name=acme.name,
        language=acme.language,
        timezone=acme.timezone,
        settings=stored,
        phone_numbers=list(acme.phone_numbers),
        email_addresses=list(acme.email_addresses),
        secretaries=list(acme.secretaries),
        backups=list(acme.backups),
    )
    assert again == acme


def test_render_then_parse_keeps_every_call_key() -> None:
    document = with_call_keys(
        hours={**WEEKDAY_HOURS, "holidays": ["2026-12-25"]},
        voice={
            "say_voice": "alice",
            "max_attempts": 5,
            "after_hours": "on_call",
            "on_call": ["sara"],
        },
        ivr={**ACME_IVR, "prompt_audio": "https://acme.example/menu.mp3"},
    )
    document["tenants"][1].update(hours={"always_open": True}, voice={"wrap_up_seconds": 30})
    config = validate_config(document)
    text = render_config(config)
    assert "[tenants.hours]\nalways_open = true\n" in text
    assert 'sat = "closed"' in text
    assert '1 = { skill = "scheduling" }' in text
    assert "wrap_up_seconds" not in text  # the default is not written out
    again = parse_config(text)
    assert diff_configs(config, again) == []
    assert again.tenants == config.tenants


def test_diff_names_call_handling_changes() -> None:
    old = validate_config(with_call_keys(hours=WEEKDAY_HOURS))
    new = validate_config(
        with_call_keys(hours={**WEEKDAY_HOURS, "sat": "10:00-14:00"}, voice={"ring_seconds": 30})
    )
    assert [str(change) for change in diff_configs(old, new)] == [
        "tenant changed: acme-dental (hours, voice)"
    ]
    ivr = validate_config(with_call_keys(hours=WEEKDAY_HOURS, ivr=ACME_IVR))
    assert [str(change) for change in diff_configs(old, ivr)] == [
        "tenant changed: acme-dental (ivr)"
    ]


# -- [[tenants.rules]] ----------------------------------------------------------------

ACME_RULES: list[dict[str, Any]] = [
    {
        "name": "invoices to accounting",
        "keywords": ["invoice", "فاکتور"],
        "category": "accounting",
        "secretary": "reza",  # a backup of acme-dental
    },
    {"name": "orders", "regex": r"(?i)\border\s*#?\d{4,}", "priority": "high", "stop": False},
    {"name": "supplier", "senders": ["Billing@Supplier.example"], "skill": "accounting"},
    {"name": "landlord", "numbers": ["+12125550188"], "priority": "urgent"},
]


def with_rules(*rules: dict[str, Any]) -> dict[str, Any]:
    """minimal() with these rules on acme-dental (secretary sara, backup reza)."""
    document = minimal()
    document["tenants"][0]["rules"] = [dict(rule) for rule in rules]
    return document


def maryam_on_pars(*rules: dict[str, Any]) -> dict[str, Any]:
    """with_rules(), and a secretary maryam who works for pars-dental only."""
    document = with_rules(*rules)
    document["secretaries"].append({**document["secretaries"][1], "id": "maryam"})
    document["tenants"][1]["secretaries"].append("maryam")
    return document


def rule_mistake(key: str, value: Any) -> dict[str, Any]:
    """acme-dental's first rule, valid but for `key` = `value`."""
    return with_rules({**ACME_RULES[0], key: value}, *ACME_RULES[1:])


RULE_MISTAKES = [
    ("rules not an array", {"name": "x"}, "tenants[0].rules: expected an array of tables"),
    ("rule not a table", ["invoice"], "tenants[0].rules[0]: expected a table, got a string"),
    (
        "unknown key",
        [{**ACME_RULES[0], "keyword": "x"}],
        'tenants[0].rules[0].keyword: unknown key; did you mean "keywords"?',
    ),
    (
        "no name",
        [{"keywords": ["x"], "category": "sales"}],
        "tenants[0].rules[0].name: required key is missing",
    ),
    (
        "same name twice",
        [ACME_RULES[0], {**ACME_RULES[1], "name": "invoices to accounting"}],
        'tenants[0].rules[1].name: "invoices to accounting" is used twice '
        "(first at tenants[0].rules[0].name)",
    ),
    (
        "no condition",
        [{"name": "x", "category": "sales"}],
        "tenants[0].rules[0]: needs a condition: keywords, regex, senders or numbers",
    ),
    (
        "no action",
        [{"name": "x", "keywords": ["y"], "stop": False}],
        "tenants[0].rules[0]: needs an action: category, priority, skill or secretary",
    ),
    (
        "keywords not a list",
        rule_mistake("keywords", "invoice"),
        "tenants[0].rules[0].keywords: expected an array of strings, got a string",
    ),
    (
        "keywords empty",
        rule_mistake("keywords", []),
        "tenants[0].rules[0].keywords: must list at least one",
    ),
    (
        "keyword blank",
        rule_mistake("keywords", ["invoice", " "]),
        "tenants[0].rules[0].keywords[1]: must not be empty",
    ),
    (
        "keyword of marks only",
        rule_mistake("keywords", ["invoice", "\u200c!"]),
        'tenants[0].rules[0].keywords[1]: "\u200c!" has no letters or digits to match',
    ),
    (
        "keyword twice",
        rule_mistake("keywords", ["invoice", "invoice"]),
        'tenants[0].rules[0].keywords[1]: "invoice" is listed twice',
    ),
    (
        "regex does not compile",
        rule_mistake("regex", "order (#\\d+"),
        'tenants[0].rules[0].regex: "order (#\\\\d+" is not a valid regular expression '
        "(missing ), unterminated subpattern at position 6)",
    ),
    (
        "regex matches everything",
        rule_mistake("regex", "(urgent)?"),
        'tenants[0].rules[0].regex: "(urgent)?" matches an empty text, '
        "so it would match every item",
    ),
    (
        "regex not a string",
        rule_mistake("regex", ["a"]),
        "tenants[0].rules[0].regex: expected a string, got an array",
    ),
    (
        "sender not an address",
        rule_mistake("senders", ["billing.supplier.example"]),
        'tenants[0].rules[0].senders[0]: "billing.supplier.example" is not an email address',
    ),
    (
        "number not E.164",
        rule_mistake("numbers", ["212-555-0188"]),
        'tenants[0].rules[0].numbers[0]: "212-555-0188" is not an E.164 number',
    ),
    (
        "senders and numbers",
        with_rules({**ACME_RULES[2], "numbers": ["+12125550188"]}),
        "tenants[0].rules[0]: senders and numbers together never match",
    ),
    (
        "bad category",
        rule_mistake("category", "billing"),
        'tenants[0].rules[0].category: "billing" is not a category',
    ),
    (
        "bad priority",
        rule_mistake("priority", "critical"),
        'tenants[0].rules[0].priority: "critical" is not a priority '
        "(one of: urgent, high, normal, low)",
    ),
    (
        "spam is no skill",
        rule_mistake("skill", "spam"),
        'tenants[0].rules[0].skill: "spam" is not a skill',
    ),
    (
        "undefined secretary",
        rule_mistake("secretary", "nima"),
        'tenants[0].rules[0].secretary: "nima" is not one of this tenant\'s secretaries '
        "or backups (reza, sara)",
    ),
    (
        "secretary of another tenant",
        maryam_on_pars({**ACME_RULES[0], "secretary": "maryam"}),
        'tenants[0].rules[0].secretary: "maryam" is not one of',
    ),
    (
        "stop not a boolean",
        rule_mistake("stop", "no"),
        "tenants[0].rules[0].stop: expected a boolean (true or false), got a string",
    ),
]


def _rules_document(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "tenants" in value:
        return value
    document = minimal()
    document["tenants"][0]["rules"] = value
    return document


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(value, expected, id=name) for name, value, expected in RULE_MISTAKES],
)
def test_each_rule_mistake_is_reported_with_its_path(value: Any, expected: str) -> None:
    document = _rules_document(value)
    problems = problems_of(document)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_rule_mistake_is_reported_at_once() -> None:
    document = with_rules(
        {"name": "a", "regex": "(", "category": "sales"},
        {"name": "a", "keywords": ["x"], "secretary": "nima"},
        {"name": "b", "priority": "soon"},
    )
    document["tenants"][1]["rules"] = [{"name": "c", "numbers": ["+1"], "skill": "travel"}]
    problems = problems_of(document)
    assert [problem.split(":")[0] for problem in problems] == [
        "tenants[0].rules[0].regex",
        "tenants[0].rules[1].name",
        "tenants[0].rules[1].secretary",
        "tenants[0].rules[2].priority",
        "tenants[0].rules[2]",
        "tenants[1].rules[0].numbers[0]",
    ]


def test_rules_parse_in_file_order_with_senders_lowercased() -> None:
    acme = validate_config(with_rules(*ACME_RULES)).tenants[0]
    assert [rule.name for rule in acme.rules] == [
        "invoices to accounting",
        "orders",
        "supplier",
        "landlord",
    ]
    invoices, orders, supplier, landlord = acme.rules
    assert (invoices.keywords, invoices.category, invoices.secretary) == (
        ("invoice", "فاکتور"),
        "accounting",
        "reza",
    )
    assert (orders.regex, orders.priority, orders.stop) == (
        r"(?i)\border\s*#?\d{4,}",
        Priority.HIGH,
        False,
    )
    assert invoices.stop and supplier.stop
    assert supplier.senders == ("billing@supplier.example",)
    assert landlord.numbers == ("+12125550188",) and landlord.priority is Priority.URGENT
    assert validate_config(minimal()).tenants[0].rules == ()


def test_settings_hold_the_rules_and_read_back_equal() -> None:
    acme = validate_config(with_rules(*ACME_RULES)).tenants[0]
    settings = acme.settings()
    assert settings["rules"][1] == {
        "name": "orders",
        "regex": r"(?i)\border\s*#?\d{4,}",
        "priority": "high",
        "stop": False,
    }
    assert settings["rules"][2] == {
        "name": "supplier",
        "senders": ["billing@supplier.example"],
        "skill": "accounting",
    }
    stored = json.loads(json.dumps(settings))
    again = tenant_from_stored(
        id=acme.id,
        name=acme.name,
        language=acme.language,
        timezone=acme.timezone,
        settings=stored,
        phone_numbers=list(acme.phone_numbers),
        email_addresses=list(acme.email_addresses),
        secretaries=list(acme.secretaries),
        backups=list(acme.backups),
    )
    assert again == acme
    assert again.rules[1].priority is Priority.HIGH


def test_render_then_parse_keeps_every_rule_in_order() -> None:
    config = validate_config(with_rules(*ACME_RULES))
    text = render_config(config)
    assert (
        '[[tenants.rules]]\nname = "invoices to accounting"\nkeywords = ["invoice", "فاکتور"]'
        in text
    )
    assert "stop = false" in text and "stop = true" not in text
    again = parse_config(text)
    assert diff_configs(config, again) == []
    assert again.tenants == config.tenants


def test_diff_names_rule_changes() -> None:
    old = validate_config(with_rules(*ACME_RULES))
    reordered = validate_config(with_rules(ACME_RULES[1], ACME_RULES[0], *ACME_RULES[2:]))
    assert [str(change) for change in diff_configs(old, reordered)] == [
        "tenant changed: acme-dental (rules)"
    ]
    assert diff_configs(old, validate_config(with_rules(*ACME_RULES))) == []


def test_rules_apply_export_and_apply_again_change_nothing(
    repo: Repository, tmp_path: Path
) -> None:
    apply_config_path(repo.engine, write(tmp_path, minimal()))
    document = with_rules(*ACME_RULES)
    result = apply_config_path(repo.engine, write(tmp_path, document))
    assert result.changes == ["tenant changed: acme-dental (rules)"]
    stored = {row.id: row.settings for row in table_rows(repo.engine, tenants)}
    assert [rule["name"] for rule in stored["acme-dental"]["rules"]] == [
        r["name"] for r in ACME_RULES
    ]
    assert stored["pars-dental"]["rules"] == []
    loaded = load_current_config(repo.engine)
    assert loaded.tenants[0].rules == validate_config(document).tenants[0].rules
    exported = tmp_path / "exported.toml"
    exported.write_text(export_config_toml(repo.engine), encoding="utf-8")
    again = apply_config_path(repo.engine, exported)
    assert (again.changes, again.summary) == ([], "no changes")
    removed = apply_config_path(repo.engine, write(tmp_path, minimal()))
    assert removed.changes == ["tenant changed: acme-dental (rules)"]
    assert load_current_config(repo.engine).tenants[0].rules == ()


def test_settings_stored_before_rules_existed_read_as_no_rules(
    repo: Repository, tmp_path: Path
) -> None:
    path = write(tmp_path, minimal())
    apply_config_path(repo.engine, path)
    with repo.engine.begin() as connection:
        for row in connection.execute(select(tenants.c.id, tenants.c.settings)).all():
            old = {k: v for k, v in row.settings.items() if k != "rules"}
            connection.execute(tenants.update().where(tenants.c.id == row.id).values(settings=old))
    assert load_current_config(repo.engine).tenants[0].rules == ()
    assert apply_config_path(repo.engine, path).changes == []


# -- applying to a real database (SQLite and PostgreSQL) ------------------------------


def test_example_applies_and_applying_it_again_changes_nothing(repo: Repository) -> None:
    first = apply_config_path(repo.engine, EXAMPLE)
    assert first.applied
    assert "tenant added: pars-dental" in first.changes
    assert "assignment added: maryam -> pars-dental (primary)" in first.changes
    assert first.summary.startswith("agency set, 4 tenants added, 5 secretaries added")

    assert repo.tenant_for_number("+982188776655") == "pars-dental"
    assert repo.secretary("sara").capacity == 3
    assert len(table_rows(repo.engine, tenant_phone_numbers)) == 7
    assert len(table_rows(repo.engine, assignments)) == 13
    stored = {row.id: row for row in table_rows(repo.engine, tenants)}
    assert stored["pars-dental"].name == PARS_NAME
    assert stored["pars-dental"].settings["greeting"].startswith("با کلینیک")
    assert stored["caspian-travel"].settings["languages"] == ["en", "fa"]
    assert stored["hudson-law"].settings["fallback_number"] == "+12125550199"
    assert stored["hudson-law"].settings["hours"]["mon"] == "09:00-17:00"
    assert stored["hudson-law"].settings["voice"]["after_hours"] == "forward"
    assert stored["pars-dental"].settings["voice"]["on_call"] == ["maryam"]
    assert stored["alborz-home"].settings["hours"]["always_open"] is True
    assert stored["alborz-home"].settings["ivr"]["options"]["9"] == {"language": "fa"}
    assert stored["caspian-travel"].settings["voice"] == {}  # all defaults
    assert {row.key: row.value for row in table_rows(repo.engine, agency)} == {
        "name": "Monshi Virtual Secretaries",
        "inbox": "inbox@monshi-agency.example",
        "sla": {
            "urgent": 15,
            "high": 60,
            "normal": 240,
            "low": 480,
            "warn_at": 0.75,
            "backup_delay": 30,
            "alert_number": "+989121000000",
        },
        "version": 1,
    }
    assert stored["pars-dental"].settings["sla"] == {
        "urgent": 10,
        "normal": 120,
        "alert_number": "+989351234567",
    }

    before = snapshot(repo.engine)
    second = apply_config_path(repo.engine, EXAMPLE)
    assert (second.changes, second.summary, second.applied) == ([], "no changes", False)
    assert snapshot(repo.engine) == before


def test_export_then_apply_is_a_no_op(repo: Repository, tmp_path: Path) -> None:
    apply_config_path(repo.engine, EXAMPLE)
    exported = export_config_toml(repo.engine)
    assert PARS_NAME in exported
    path = tmp_path / "exported.toml"
    path.write_text(exported, encoding="utf-8")
    before = snapshot(repo.engine)
    assert apply_config_path(repo.engine, path).changes == []
    assert snapshot(repo.engine) == before
    assert export_config_toml(repo.engine) == exported


def test_settings_stored_before_the_call_keys_existed_read_as_defaults(
    repo: Repository, tmp_path: Path
) -> None:
    path = write(tmp_path, minimal())
    apply_config_path(repo.engine, path)
    with repo.engine.begin() as connection:
        for row in connection.execute(select(tenants.c.id, tenants.c.settings)).all():
            old = {k: v for k, v in row.settings.items() if k not in ("hours", "voice", "ivr")}
            connection.execute(tenants.update().where(tenants.c.id == row.id).values(settings=old))
    acme = load_current_config(repo.engine).tenants[0]
    assert (acme.hours, acme.voice, acme.ivr) == (None, VoiceSettings(), None)
    assert apply_config_path(repo.engine, path).changes == []


def test_call_keys_apply_change_and_go(repo: Repository, tmp_path: Path) -> None:
    apply_config_path(repo.engine, write(tmp_path, minimal()))
    document = with_call_keys(hours=WEEKDAY_HOURS, voice={"ring_seconds": 30}, ivr=ACME_IVR)
    result = apply_config_path(repo.engine, write(tmp_path, document))
    assert result.changes == ["tenant changed: acme-dental (hours, voice, ivr)"]
    acme = load_current_config(repo.engine).tenants[0]
    assert acme == validate_config(document).tenants[0]
    assert apply_config_path(repo.engine, write(tmp_path, document)).changes == []
    removed = apply_config_path(repo.engine, write(tmp_path, minimal()))
    assert removed.changes == ["tenant changed: acme-dental (hours, voice, ivr)"]
    stored = {row.id: row.settings for row in table_rows(repo.engine, tenants)}
    assert (stored["acme-dental"]["hours"], stored["acme-dental"]["ivr"]) == (None, None)


def test_emails_are_stored_lowercased(repo: Repository, tmp_path: Path) -> None:
    document = minimal()
    document["tenants"][0]["email_addresses"] = ["Info@AcmeDental.Example"]
    path = write(tmp_path, document)
    apply_config_path(repo.engine, path)
    assert [row.address for row in table_rows(repo.engine, tenant_email_addresses)] == [
        "info@acmedental.example"
    ]
    assert apply_config_path(repo.engine, path).changes == []


def test_dry_run_reports_changes_and_writes_nothing(repo: Repository) -> None:
    before = snapshot(repo.engine)
    result = apply_config_path(repo.engine, EXAMPLE, dry_run=True)
    assert "tenant added: hudson-law" in result.changes and not result.applied
    assert snapshot(repo.engine) == before


def test_an_invalid_file_reports_every_problem_and_changes_nothing(
    repo: Repository, tmp_path: Path
) -> None:
    apply_config_path(repo.engine, EXAMPLE)
    before = snapshot(repo.engine)
    document = example_document()
    document["agency"]["name"] = "Renamed"  # valid changes, which must not be written either
    document["tenants"].pop()
    document["tenants"][0]["timezone"] = "Asia/Teheran"
    document["tenants"][1]["secretaries"] = ["sara", "nima"]
    document["secretaries"][4]["capacity"] = 0
    with pytest.raises(ConfigError) as raised:
        apply_config_path(repo.engine, write(tmp_path, document))
    assert [problem.split(":")[0] for problem in raised.value.problems] == [
        "tenants[0].timezone",
        "tenants[1].secretaries[1]",
        "tenants[1].rules[0].secretary",  # emily no longer works for hudson-law
        "secretaries[4].capacity",
    ]
    assert snapshot(repo.engine) == before


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            set_in((*T1, "phone_numbers"), ["+12125550143"]),
            'tenants[1].phone_numbers[0]: "+12125550143" is already claimed by tenant',
            id="number claimed twice",
        ),
        pytest.param(
            set_in((*T0, "opening_hours"), "9-5"),
            "tenants[0].opening_hours: unknown key",
            id="unknown",
        ),
        pytest.param(
            set_in((*T0, "secretaries"), ["sara", "nima"]),
            'tenants[0].secretaries[1]: secretary "nima" is not defined',
            id="undefined secretary",
        ),
        pytest.param(
            set_in((*T1, "timezone"), "Tehran"),
            'tenants[1].timezone: "Tehran" is not a known time zone',
            id="bad time zone",
        ),
    ],
)
def test_a_single_mistake_leaves_the_database_as_it_was(
    repo: Repository,
    tmp_path: Path,
    mutate: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    apply_config_path(repo.engine, write(tmp_path, minimal(), "good.toml"))
    before = snapshot(repo.engine)
    document = minimal()
    document["tenants"][0]["name"] = "Renamed"  # a change that must not be written
    mutate(document)
    with pytest.raises(ConfigError) as raised:
        apply_config_path(repo.engine, write(tmp_path, document))
    assert any(problem.startswith(expected) for problem in raised.value.problems)
    assert snapshot(repo.engine) == before


def queued_item(repo: Repository, tenant_id: str, external_id: str) -> int:
    item_id, _ = repo.record_inbound(
        channel=Channel.SMS,
        external_id=external_id,
        tenant_id=tenant_id,
        sender="+12125550100",
        recipient="+12125550143",
        body="Please call me back about my appointment",
        actor="test",
    )
    repo.route_item(item_id, f"tenant:{tenant_id}", actor="test")
    return item_id


def without(document: dict[str, Any], *, tenant: str = "", secretary: str = "") -> dict[str, Any]:
    """The document minus a tenant or a secretary (and every reference to her)."""
    document = copy.deepcopy(document)
    document["tenants"] = [t for t in document["tenants"] if t["id"] != tenant]
    document["secretaries"] = [s for s in document["secretaries"] if s["id"] != secretary]
    for entry in document["tenants"]:
        for key in ("secretaries", "backups"):
            entry[key] = [s for s in entry.get(key, []) if s != secretary]
        rules = [
            {key: value for key, value in rule.items() if (key, value) != ("secretary", secretary)}
            for rule in entry.pop("rules", [])
        ]
        # A rule that only sent items to her has nothing left to do.
        if kept := [rule for rule in rules if RULE_ACTIONS & rule.keys()]:
            entry["rules"] = kept
    return document


def test_removing_a_tenant_keeps_its_items_for_supervisors(
    repo: Repository, tmp_path: Path
) -> None:
    apply_config_path(repo.engine, EXAMPLE)
    item_id = queued_item(repo, "hudson-law", "SM-removed-tenant")
    result = apply_config_path(
        repo.engine, write(tmp_path, without(example_document(), tenant="hudson-law"))
    )
    assert "tenant removed: hudson-law" in result.changes
    assert "phone number removed: +12125550143 (was hudson-law)" in result.changes
    assert "assignment removed: emily from hudson-law (primary)" in result.changes
    assert repo.tenant_for_number("+12125550143") is None
    assert "hudson-law" not in {row.id for row in table_rows(repo.engine, tenants)}
    item = repo.get_item(item_id)
    assert (item.tenant_id, item.pool, item.status) == (None, "unmatched", ItemStatus.QUEUED)
    assert [event.kind for event in repo.events(item_id)][-1] == "rerouted"
    claimed = repo.claim_next_item("maryam")  # a supervisor works the unmatched pool
    assert claimed is not None and claimed.id == item_id


def test_a_secretary_holding_items_cannot_be_removed_until_she_is_done(
    repo: Repository, tmp_path: Path
) -> None:
    apply_config_path(repo.engine, EXAMPLE)
    item_id = queued_item(repo, "hudson-law", "SM-held")
    held = repo.claim_next_item("emily")
    assert held is not None and held.id == item_id
    path = write(tmp_path, without(example_document(), secretary="emily"))
    before = snapshot(repo.engine)
    with pytest.raises(ConfigError) as raised:
        apply_config_path(repo.engine, path)
    assert raised.value.problems == [
        'secretaries: "emily" is not in the file, but holds 1 claimed item(s); complete, '
        "release or transfer them first, or keep her in the file"
    ]
    assert snapshot(repo.engine) == before

    repo.complete_item(item_id, repo.secretary("emily"), "called back")
    result = apply_config_path(repo.engine, path)
    assert "secretary removed: emily" in result.changes
    assert repo.get_item(item_id).held_by is None
    assert "secretary:emily" in {event.actor for event in repo.events(item_id)}


def test_updating_a_secretary_keeps_her_password_and_own_settings(
    repo: Repository, tmp_path: Path
) -> None:
    apply_config_path(repo.engine, write(tmp_path, minimal()))
    with repo.engine.begin() as connection:
        connection.execute(
            secretaries.update()
            .where(secretaries.c.id == "sara")
            .values(password_hash="argon2-hash", settings={"theme": "dark"})
        )
    document = minimal()
    document["secretaries"][0]["capacity"] = 5
    result = apply_config_path(repo.engine, write(tmp_path, document))
    assert result.changes == ["secretary changed: sara (capacity)"]
    (sara,) = [row for row in table_rows(repo.engine, secretaries) if row.id == "sara"]
    assert (sara.capacity, sara.password_hash, sara.settings) == (
        5,
        "argon2-hash",
        {"theme": "dark"},
    )


def test_moves_and_reassignments_are_written_and_then_stable(
    repo: Repository, tmp_path: Path
) -> None:
    apply_config_path(repo.engine, write(tmp_path, minimal()))
    document = minimal()
    document["tenants"][0]["phone_numbers"] = []
    document["tenants"][1]["phone_numbers"].append("+12125550143")
    document["tenants"][0]["secretaries"], document["tenants"][0]["backups"] = ["reza"], ["sara"]
    path = write(tmp_path, document)
    result = apply_config_path(repo.engine, path)
    assert "phone number moved: +12125550143 from acme-dental to pars-dental" in result.changes
    assert repo.tenant_for_number("+12125550143") == "pars-dental"
    kinds = {
        (row.tenant_id, row.secretary_id): row.kind for row in table_rows(repo.engine, assignments)
    }
    assert kinds == {
        ("acme-dental", "reza"): "primary",
        ("acme-dental", "sara"): "backup",
        ("pars-dental", "reza"): "primary",
    }
    assert apply_config_path(repo.engine, path).changes == []
    assert load_current_config(repo.engine) == parse_config(export_config_toml(repo.engine))


def test_an_unmigrated_database_is_named_as_such(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(SchemaNotReady, match="monshi db upgrade"):
            apply_config_path(engine, EXAMPLE)
        with pytest.raises(SchemaNotReady):
            export_config_toml(engine)
    finally:
        engine.dispose()


# -- the CLI ------------------------------------------------------------------------


def test_cli_apply_then_again_then_export_round_trip(
    repo: Repository, database_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    first = runner.invoke(cli, ["config", "apply", str(EXAMPLE)], env=env)
    assert first.exit_code == 0, first.output
    assert "  tenant added: pars-dental" in first.stdout
    assert "applied: agency set, 4 tenants added" in first.stdout

    again = runner.invoke(cli, ["config", "apply", str(EXAMPLE)], env=env)
    assert again.exit_code == 0, again.output
    assert "no changes" in again.stdout

    exported = runner.invoke(cli, ["config", "export"], env=env)
    assert exported.exit_code == 0, exported.output
    assert PARS_NAME in exported.stdout
    assert parse_config(exported.stdout).agency is not None
    path = tmp_path / "exported.toml"
    written = runner.invoke(cli, ["config", "export", "-o", str(path)], env=env)
    assert written.exit_code == 0 and path.read_text(encoding="utf-8") == exported.stdout
    round_trip = runner.invoke(cli, ["config", "apply", str(path)], env=env)
    assert round_trip.exit_code == 0 and "no changes" in round_trip.stdout


def test_cli_invalid_file_exits_non_zero_listing_every_problem(
    repo: Repository, database_url: str, tmp_path: Path
) -> None:
    document = minimal()
    document["tenants"][0]["timezone"] = "Mars/Olympus"
    document["tenants"][1]["phone_numbers"] = ["09121234567"]
    document["secretaries"][0]["role"] = "boss"
    path = write(tmp_path, document)
    result = CliRunner().invoke(
        cli, ["config", "apply", str(path)], env={"DATABASE_URL": database_url}
    )
    assert result.exit_code == 1
    assert "3 problems; nothing was changed" in result.stderr
    assert 'tenants[0].timezone: "Mars/Olympus" is not a known time zone' in result.stderr
    assert 'tenants[1].phone_numbers[0]: "09121234567" is not an E.164 number' in result.stderr
    assert 'secretaries[0].role: "boss" is not a role' in result.stderr
    assert table_rows(repo.engine, tenants) == []


def test_cli_dry_run_writes_nothing(repo: Repository, database_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["config", "apply", "--dry-run", str(EXAMPLE)], env={"DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output
    assert "would apply: agency set" in result.stdout
    assert table_rows(repo.engine, tenants) == []


def test_cli_check_needs_no_database(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": ""}
    valid = runner.invoke(cli, ["config", "apply", "--check", str(EXAMPLE)], env=env)
    assert valid.exit_code == 0, valid.output
    assert "valid (4 tenants, 5 secretaries)" in valid.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text('[agency]\nname = "x"\ninbox = \n', encoding="utf-8")
    syntax = runner.invoke(cli, ["config", "apply", "--check", str(broken)], env=env)
    assert syntax.exit_code == 1
    assert "TOML syntax error" in syntax.stderr and "line 3, column 9" in syntax.stderr


def test_cli_names_what_is_missing(sqlite_url: str) -> None:
    runner = CliRunner()
    no_url = runner.invoke(cli, ["config", "apply", str(EXAMPLE)], env={"DATABASE_URL": ""})
    assert no_url.exit_code == 1 and "DATABASE_URL" in no_url.stderr
    unmigrated = runner.invoke(cli, ["config", "export"], env={"DATABASE_URL": sqlite_url})
    assert unmigrated.exit_code == 1 and "monshi db upgrade" in unmigrated.stderr
