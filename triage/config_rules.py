"""A tenant's triage rules in the agency file (`[[tenants.rules]]`): validation and JSON form.

Validation reports every problem with its path (`tenants[1].rules[0].regex: ...`), like the
rest of the file; `rules_settings` and `rules_from_settings` are the JSON form kept in
tenants.settings["rules"]. Matching is triage/classify/rules.py.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from triage.classify.normalize import normalize
from triage.classify.rules import RULE_ACTIONS, TenantRule
from triage.config_checks import (
    MAX_NAME_LENGTH,
    Check,
    choice_problem,
    did_you_mean,
    e164_problem,
    email_problem,
    quote,
    type_name,
)
from triage.config_fields import Problems, checked_at, join, string_at
from triage.models import Category, Priority

RULE_CONDITIONS = ("keywords", "regex", "senders", "numbers")
RULE_KEYS = ("name", *RULE_CONDITIONS, *RULE_ACTIONS, "stop")
CATEGORIES = tuple(category.value for category in Category)
PRIORITIES = tuple(priority.value for priority in Priority)
# A skill routes to people who have it: any category but spam, as for IVR digits.
RULE_SKILLS = tuple(category.value for category in Category if category is not Category.SPAM)
MAX_REGEX_LENGTH = 500


def tenant_rules(
    table: Mapping[str, Any], path: str, *, assigned: Collection[str], problems: Problems
) -> tuple[TenantRule, ...]:
    """`[[tenants.rules]]` in file order; () when absent. A bad rule is reported and left out.

    `assigned` holds the tenant's secretaries (primary and backup): a rule may only send an
    item to one of them.
    """
    if "rules" not in table:
        return ()
    rules_path = join(path, "rules")
    value = table["rules"]
    if not isinstance(value, list):
        problems.add(
            rules_path, f"expected an array of tables ([[tenants.rules]]), got {type_name(value)}"
        )
        return ()
    names: dict[str, str] = {}
    rules = []
    for index, element in enumerate(value):
        rule_path = f"{rules_path}[{index}]"
        rule_table = problems.table(element, rule_path)
        if rule_table is not None:
            rule = _rule(rule_table, rule_path, assigned, names, problems)
            if rule is not None:
                rules.append(rule)
    return tuple(rules)


def _rule(
    table: Mapping[str, Any],
    path: str,
    assigned: Collection[str],
    names: dict[str, str],
    problems: Problems,
) -> TenantRule | None:
    before = len(problems.messages)
    problems.check_keys(table, path, required=("name",), optional=RULE_KEYS[1:])
    name = string_at(table, path, "name", problems, max_length=MAX_NAME_LENGTH)
    if name is not None:
        if name in names:
            problems.add(
                join(path, "name"), f"{quote(name)} is used twice (first at {names[name]})"
            )
        else:
            names[name] = join(path, "name")
    keywords = _non_empty_list(table, path, "keywords", problems, _keyword_problem)
    regex = checked_at(table, path, "regex", problems, _regex_problem)
    senders = [s.lower() for s in _non_empty_list(table, path, "senders", problems, email_problem)]
    numbers = _non_empty_list(table, path, "numbers", problems, e164_problem)
    category = checked_at(table, path, "category", problems, choice_problem("category", CATEGORIES))
    priority = checked_at(table, path, "priority", problems, choice_problem("priority", PRIORITIES))
    skill = checked_at(table, path, "skill", problems, choice_problem("skill", RULE_SKILLS))
    secretary = checked_at(table, path, "secretary", problems, _secretary_problem(assigned))
    stop = table.get("stop", True)
    if not isinstance(stop, bool):
        problems.add(
            join(path, "stop"), f"expected a boolean (true or false), got {type_name(stop)}"
        )
    if not any(key in table for key in RULE_CONDITIONS):
        problems.add(path, "needs a condition: keywords, regex, senders or numbers")
    if not any(key in table for key in RULE_ACTIONS):
        problems.add(path, "needs an action: category, priority, skill or secretary")
    if senders and numbers:
        # Conditions are AND-ed and an item has one sender: such a rule could never match.
        problems.add(path, "senders and numbers together never match (an item has one sender)")
    if len(problems.messages) > before or name is None:
        return None
    return TenantRule(
        name=name,
        keywords=tuple(keywords),
        regex=regex,
        senders=tuple(senders),
        numbers=tuple(numbers),
        category=category,
        priority=Priority(priority) if priority else None,
        skill=skill,
        secretary=secretary,
        stop=bool(stop),
    )


def _non_empty_list(
    table: Mapping[str, Any],
    path: str,
    key: str,
    problems: Problems,
    check: Check,
) -> list[str]:
    if key not in table:
        return []
    found = [text for _, text in problems.strings(table[key], join(path, key), check)]
    if table[key] == []:
        problems.add(join(path, key), "must list at least one; leave the key out instead")
    return found


def _keyword_problem(keyword: str) -> str | None:
    if not re.search(r"\w", normalize(keyword)):
        return f"{quote(keyword)} has no letters or digits to match"
    return None


def _regex_problem(pattern: str) -> str | None:
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"is longer than {MAX_REGEX_LENGTH} characters"
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        return f"{quote(pattern)} is not a valid regular expression ({error})"
    if compiled.search("") is not None:
        return f"{quote(pattern)} matches an empty text, so it would match every item"
    return None


def _secretary_problem(assigned: Collection[str]) -> Check:
    def problem(secretary_id: str) -> str | None:
        if secretary_id in assigned:
            return None
        listed = ", ".join(sorted(assigned)) or "none"
        return (
            f"{quote(secretary_id)} is not one of this tenant's secretaries or backups "
            f"({listed})" + did_you_mean(secretary_id, assigned)
        )

    return problem


# -- the JSON form in tenants.settings --------------------------------------------------


def rule_fields(rule: TenantRule) -> dict[str, Any]:
    """A rule's keys as the file writes them: the ones it sets, `stop` only when false."""
    fields: dict[str, Any] = {"name": rule.name}
    for key in RULE_CONDITIONS + RULE_ACTIONS:
        value = getattr(rule, key)
        if value:
            fields[key] = list(value) if isinstance(value, tuple) else str(value)
    if not rule.stop:
        fields["stop"] = False
    return fields


def rules_settings(rules: tuple[TenantRule, ...]) -> list[dict[str, Any]]:
    return [rule_fields(rule) for rule in rules]


def rules_from_settings(stored: list[Mapping[str, Any]] | None) -> tuple[TenantRule, ...]:
    """The inverse of rules_settings; settings written before rules existed give ()."""
    return tuple(
        TenantRule(
            name=rule["name"],
            keywords=tuple(rule.get("keywords") or ()),
            regex=rule.get("regex"),
            senders=tuple(rule.get("senders") or ()),
            numbers=tuple(rule.get("numbers") or ()),
            category=rule.get("category"),
            priority=Priority(rule["priority"]) if rule.get("priority") else None,
            skill=rule.get("skill"),
            secretary=rule.get("secretary"),
            stop=rule.get("stop", True),
        )
        for rule in stored or ()
    )
