"""The SLA clock with plain values: due times in business hours, skills, escalation steps,
and the `[agency.sla]` / `[tenants.sla]` config that sets them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from triage.config import parse_config, validate_config
from triage.config_output import diff_configs, render_config
from triage.directory import Directory, TenantProfile, build_directory
from triage.errors import ConfigError
from triage.models import Priority
from triage.sla import (
    BREACH,
    DEFAULT_SLA,
    SUPERVISORS,
    WARNING,
    ItemFacts,
    business_time_between,
    escalate,
    escalation_moments,
    routing_for,
)

TEHRAN = ZoneInfo("Asia/Tehran")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

AGENCY = """
[agency]
name = "Test Agency"
inbox = "inbox@agency.example"

[agency.sla]
normal = 120
alert_number = "+989121000000"

[[tenants]]
id = "pars"
name = "Pars"
language = "fa"
timezone = "Asia/Tehran"
phone_numbers = ["+982188776655"]
secretaries = ["reza"]
backups = ["sara"]

[tenants.hours]
sat = "09:00-17:00"
sun = "09:00-17:00"
mon = "09:00-17:00"
tue = "09:00-17:00"
wed = "09:00-17:00"
holidays = ["2026-03-20", "2026-03-21"]

[tenants.sla]
normal = 30
backup_delay = 10

[[tenants]]
id = "hudson"
name = "Hudson"
language = "en"
timezone = "America/New_York"
phone_numbers = ["+12125550143"]
secretaries = ["emily"]

[tenants.hours]
mon = "09:00-17:00"
tue = "09:00-17:00"
wed = "09:00-17:00"
thu = "09:00-17:00"
fri = "09:00-17:00"

[tenants.sla]
high = 60
second_breach = 45
alert_number = "+12125550177"

[[tenants]]
id = "alborz"
name = "Alborz"
language = "en"
timezone = "America/Los_Angeles"
phone_numbers = ["+13105550110"]
secretaries = ["emily"]

[tenants.hours]
always_open = true

[[secretaries]]
id = "reza"
name = "Reza"
role = "secretary"
languages = ["fa"]
skills = ["accounting"]
capacity = 2
phone = "+989123456789"

[[secretaries]]
id = "sara"
name = "Sara"
role = "secretary"
languages = ["fa", "en"]
skills = ["scheduling"]
capacity = 3
phone = "+989121234567"

[[secretaries]]
id = "emily"
name = "Emily"
role = "secretary"
languages = ["en"]
skills = ["documents"]
capacity = 3
phone = "+16465550142"
"""


@pytest.fixture(scope="module")
def directory() -> Directory:
    return build_directory(parse_config(AGENCY), "1")


def tenant(directory: Directory, tenant_id: str) -> TenantProfile:
    return directory.tenants[tenant_id]


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


# -- the SLA clock ------------------------------------------------------------------------


def test_tehran_email_at_1655_on_wednesday_is_due_at_0925_on_saturday(
    directory: Directory,
) -> None:
    # 2026-11-25 is a Wednesday; Thursday and Friday are the Iranian weekend.
    queued = at(TEHRAN, 2026, 11, 25, 16, 55)
    routing = routing_for(
        tenant(directory, "pars"), directory.secretaries, ItemFacts(Priority.NORMAL), queued
    )
    assert routing.due_at == at(TEHRAN, 2026, 11, 28, 9, 25)
    assert routing.due_at is not None and routing.due_at.weekday() == 5  # Saturday
    # backup_delay is business time too: 5 minutes on Wednesday, 5 on Saturday.
    assert routing.backup_at == at(TEHRAN, 2026, 11, 28, 9, 5)


def test_the_iranian_weekend_and_holidays_do_not_count(directory: Directory) -> None:
    pars = tenant(directory, "pars")
    thursday = at(TEHRAN, 2026, 11, 26, 10, 0)
    routing = routing_for(pars, directory.secretaries, ItemFacts(Priority.NORMAL), thursday)
    assert routing.due_at == at(TEHRAN, 2026, 11, 28, 9, 30)
    # Esfand 29 (Friday 2026-03-20) and Nowruz (Saturday 2026-03-21) are holidays: an item
    # on Wednesday 2026-03-18 at 16:50 waits until Sunday 2026-03-22.
    before_nowruz = at(TEHRAN, 2026, 3, 18, 16, 50)
    routing = routing_for(pars, directory.secretaries, ItemFacts(Priority.NORMAL), before_nowruz)
    assert routing.due_at == at(TEHRAN, 2026, 3, 22, 9, 20)


def test_us_spring_forward_weekend_is_exact(directory: Directory) -> None:
    hudson = tenant(directory, "hudson")
    # Friday 2026-03-06 16:30 EST; clocks go forward on Sunday 2026-03-08.
    friday = at(NEW_YORK, 2026, 3, 6, 16, 30)
    routing = routing_for(hudson, directory.secretaries, ItemFacts(Priority.HIGH), friday)
    assert routing.due_at == at(NEW_YORK, 2026, 3, 9, 9, 30)
    assert routing.due_at is not None
    assert routing.due_at.astimezone(UTC) == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)  # EDT
    assert friday.astimezone(UTC).hour == 21  # EST, -5


def test_dst_changes_in_an_office_open_around_the_clock(directory: Directory) -> None:
    alborz = tenant(directory, "alborz")
    # 01:30 PST + 60 minutes of real time is 03:30 PDT: the 2 o'clock hour does not exist.
    spring = at(LOS_ANGELES, 2026, 3, 8, 1, 30)
    due = routing_for(alborz, directory.secretaries, ItemFacts(Priority.HIGH), spring).due_at
    assert due is not None and (due.hour, due.minute) == (3, 30)
    assert due.astimezone(UTC) - spring.astimezone(UTC) == timedelta(hours=1)
    # 01:30 PDT + 60 minutes is 01:30 PST: the hour happens twice.
    autumn = datetime(2026, 11, 1, 8, 30, tzinfo=UTC).astimezone(LOS_ANGELES)
    assert (autumn.hour, autumn.minute, autumn.tzname()) == (1, 30, "PDT")
    due = routing_for(alborz, directory.secretaries, ItemFacts(Priority.HIGH), autumn).due_at
    assert due is not None
    assert (due.hour, due.minute, due.tzname()) == (1, 30, "PST")


def test_targets_follow_priority_and_the_agency_defaults(directory: Directory) -> None:
    hudson = tenant(directory, "hudson")
    monday = at(NEW_YORK, 2026, 11, 23, 10, 0)
    expected = {
        Priority.URGENT: monday + timedelta(minutes=15),  # built-in default
        Priority.HIGH: monday + timedelta(minutes=60),  # the tenant's own
        Priority.NORMAL: monday + timedelta(minutes=120),  # the agency's
        Priority.LOW: at(NEW_YORK, 2026, 11, 24, 10, 0),  # 480 minutes: one business day
    }
    for priority, due in expected.items():
        routing = routing_for(hudson, directory.secretaries, ItemFacts(priority), monday)
        assert routing.due_at == due, priority


def test_spam_has_no_sla_and_unmatched_items_count_around_the_clock(
    directory: Directory,
) -> None:
    queued = at(TEHRAN, 2026, 11, 26, 23, 0)  # Thursday night
    spam = routing_for(
        tenant(directory, "pars"), directory.secretaries, ItemFacts(Priority.LOW, spam=True), queued
    )
    assert (spam.due_at, spam.backup_at, spam.required_skill) == (None, None, None)
    unmatched = routing_for(
        None, directory.secretaries, ItemFacts(Priority.NORMAL), queued, default=directory.sla
    )
    assert unmatched.due_at == queued + timedelta(minutes=120)  # the agency's normal
    assert unmatched.backup_at is None


# -- the required skill -----------------------------------------------------------------


def test_required_skill_ivr_first_then_rule_or_category_only_if_someone_has_it(
    directory: Directory,
) -> None:
    pars = tenant(directory, "pars")
    queued = at(TEHRAN, 2026, 11, 25, 10, 0)

    def skill(ivr: str | None, rule: str | None) -> str | None:
        facts = ItemFacts(Priority.NORMAL, ivr_skill=ivr, skill=rule)
        return routing_for(pars, directory.secretaries, facts, queued).required_skill

    assert skill("scheduling", "accounting") == "scheduling"  # the backup sara has it
    assert skill(None, "accounting") == "accounting"  # the primary reza has it
    assert skill("travel", "accounting") == "accounting"  # nobody has travel
    assert skill("travel", "documents") is None  # emily has documents, not at pars
    assert skill(None, None) is None


# -- escalation ----------------------------------------------------------------------------


def test_escalation_moments_are_counted_in_business_time(directory: Directory) -> None:
    pars = tenant(directory, "pars")
    queued = at(TEHRAN, 2026, 11, 25, 16, 55)
    due = at(TEHRAN, 2026, 11, 28, 9, 25)
    assert business_time_between(pars.hours, queued, due) == timedelta(minutes=30)
    moments = escalation_moments(pars.hours, pars.sla, queued, due)
    assert moments == {
        WARNING: at(TEHRAN, 2026, 11, 28, 9, 17, 30),  # 75% of 30 minutes
        BREACH: due,
        SUPERVISORS: at(TEHRAN, 2026, 11, 28, 9, 55),  # the target once more
    }
    hudson = tenant(directory, "hudson")
    friday = at(NEW_YORK, 2026, 11, 27, 16, 30)
    hudson_due = at(NEW_YORK, 2026, 11, 30, 9, 30)
    assert escalation_moments(hudson.hours, hudson.sla, friday, hudson_due) == {
        WARNING: at(NEW_YORK, 2026, 11, 30, 9, 15),
        BREACH: hudson_due,
        SUPERVISORS: at(NEW_YORK, 2026, 11, 30, 10, 15),  # second_breach = 45
    }


def test_escalate_raises_priority_once_and_opens_to_backups_at_the_breach() -> None:
    now = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    later = now + timedelta(hours=1)
    warning = escalate(WARNING, 0, Priority.NORMAL.rank, later, now)
    assert warning is not None
    assert (warning.level, warning.priority_rank, warning.backup_at) == (1, 1, later)
    breach = escalate(BREACH, 1, warning.priority_rank, later, now)
    assert breach is not None
    assert (breach.priority_rank, breach.backup_at) == (1, now)  # no second rise
    assert escalate(BREACH, 2, 1, now, now) is None  # already there
    assert escalate(WARNING, 3, 1, now, now) is None
    skipped = escalate(SUPERVISORS, 0, Priority.URGENT.rank, None, now)
    assert skipped is not None
    assert (skipped.level, skipped.priority_rank, skipped.backup_at) == (3, 0, now)
    earlier = now - timedelta(minutes=5)
    kept = escalate(BREACH, 1, 2, earlier, now)
    assert kept is not None and kept.backup_at == earlier


# -- config --------------------------------------------------------------------------------


def test_tenant_keys_override_the_agency_key_by_key(directory: Directory) -> None:
    pars, hudson = tenant(directory, "pars").sla, tenant(directory, "hudson").sla
    assert (pars.normal, pars.backup_delay, pars.alert_number) == (30, 10, "+989121000000")
    assert (hudson.normal, hudson.high, hudson.alert_number) == (120, 60, "+12125550177")
    assert hudson.urgent == DEFAULT_SLA.urgent and hudson.second_breach == 45
    assert directory.sla.normal == 120 and directory.sla.high == DEFAULT_SLA.high


def test_sla_config_exports_and_reads_back_the_same() -> None:
    config = parse_config(AGENCY)
    text = render_config(config)
    assert "[agency.sla]\nnormal = 120\n" in text
    assert "[tenants.sla]\nnormal = 30\nbackup_delay = 10\n" in text
    again = parse_config(text)  # tenants come back sorted by id
    assert diff_configs(config, again) == []
    assert {t.id: t.sla for t in again.tenants} == {t.id: t.sla for t in config.tenants}
    assert again.agency == config.agency
    assert render_config(again) == text


def document(sla: dict[str, Any], *, agency: dict[str, Any] | None = None) -> dict[str, Any]:
    agency_table: dict[str, Any] = {"name": "A", "inbox": "inbox@agency.example"}
    if agency is not None:
        agency_table["sla"] = agency
    return {
        "agency": agency_table,
        "tenants": [
            {"id": "t", "name": "T", "language": "en", "timezone": "UTC", "sla": sla},
        ],
        "secretaries": [],
    }


@pytest.mark.parametrize(
    ("sla", "message"),
    [
        ({"normal": 0}, "tenants[0].sla.normal: must be 1 to 43200 minutes, got 0"),
        ({"urgent": "15"}, "tenants[0].sla.urgent: expected an integer, got a string"),
        ({"warn_at": 1}, "tenants[0].sla.warn_at: must be more than 0 and less than 1"),
        ({"warn_at": True}, "tenants[0].sla.warn_at: expected a number between 0 and 1"),
        ({"backup_delay": -1}, "tenants[0].sla.backup_delay: must be 0 to 43200 minutes"),
        ({"second_breach": 0}, "tenants[0].sla.second_breach: must be 1 to 43200 minutes"),
        ({"alert_number": "0912"}, 'tenants[0].sla.alert_number: "0912" is not an E.164'),
        ({"nromal": 30}, "tenants[0].sla.nromal: unknown key"),
    ],
)
def test_bad_sla_keys_are_reported_with_their_path(sla: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        validate_config(document(sla))
    assert any(problem.startswith(message) for problem in raised.value.problems), (
        raised.value.problems
    )


def test_bad_agency_sla_is_reported_at_agency_sla() -> None:
    with pytest.raises(ConfigError) as raised:
        validate_config(document({}, agency={"low": 50_000}))
    assert raised.value.problems == ["agency.sla.low: must be 1 to 43200 minutes, got 50000"]


def test_a_changed_sla_is_a_change_of_its_tenant_or_of_the_agency() -> None:
    old = parse_config(AGENCY)
    new = parse_config(
        AGENCY.replace("normal = 30\n", "normal = 45\n").replace("normal = 120", "normal = 90")
    )
    assert [str(change) for change in diff_configs(old, new)] == [
        "agency changed: sla",
        "tenant changed: pars (sla)",
    ]
