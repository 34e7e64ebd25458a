"""The agency config file: validation with plain values, apply/export on both databases, CLI."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests.conftest import REPO_ROOT
from triage.cli import cli
from triage.config import load_config, parse_config, validate_config
from triage.config_output import diff_configs, render_config, summarize_changes
from triage.errors import ConfigError
from triage.models import Channel, ItemStatus, Role
from triage.store.config_store import (
    SchemaNotReady,
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


# -- applying to a real database (SQLite and PostgreSQL) ------------------------------


def test_example_applies_and_applying_it_again_changes_nothing(repo: Repository) -> None:
    first = apply_config_path(repo.engine, EXAMPLE)
    assert first.applied
    assert "tenant added: pars-dental" in first.changes
    assert "assignment added: maryam -> pars-dental (primary)" in first.changes
    assert first.summary.startswith("agency set, 3 tenants added, 5 secretaries added")

    assert repo.tenant_for_number("+982188776655") == "pars-dental"
    assert repo.secretary("sara").capacity == 3
    assert len(table_rows(repo.engine, tenant_phone_numbers)) == 5
    assert len(table_rows(repo.engine, assignments)) == 9
    stored = {row.id: row for row in table_rows(repo.engine, tenants)}
    assert stored["pars-dental"].name == PARS_NAME
    assert stored["pars-dental"].settings["greeting"].startswith("با کلینیک")
    assert stored["caspian-travel"].settings["languages"] == ["en", "fa"]
    assert stored["hudson-law"].settings["fallback_number"] == "+12125550199"
    assert {row.key: row.value for row in table_rows(repo.engine, agency)} == {
        "name": "Monshi Virtual Secretaries",
        "inbox": "inbox@monshi-agency.example",
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
        pytest.param(set_in((*T0, "hours"), "9-5"), "tenants[0].hours: unknown key", id="unknown"),
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
    assert "applied: agency set, 3 tenants added" in first.stdout

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
    assert "valid (3 tenants, 5 secretaries)" in valid.stdout
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
