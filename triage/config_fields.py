"""Reading the fields of an agency config file while collecting every problem with its path.

`Problems` prefixes each message with the path of the value (`tenants[2].phone_numbers[0]`)
and keeps them all, so one run of the validator reports every mistake in the file. The
readers return None (or drop the element) for a bad value and carry on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from triage.config_checks import (
    Check,
    did_you_mean,
    e164_problem,
    email_problem,
    language_problem,
    quote,
    slug_problem,
    type_name,
)


class Problems:
    """Every problem found in one config file, in the order found, each with its path."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.messages.append(f"{path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.messages)

    def check_keys(
        self,
        table: Mapping[str, Any],
        path: str,
        *,
        required: Collection[str],
        optional: Collection[str] = (),
    ) -> None:
        """Report unknown keys and missing required keys of `table`."""
        allowed = [*required, *optional]
        for key in table:
            if key not in allowed:
                self.add(join(path, key), "unknown key" + did_you_mean(key, allowed))
        for key in required:
            if key not in table:
                self.add(join(path, key), "required key is missing")

    def table(self, value: Any, path: str) -> Mapping[str, Any] | None:
        """`value` when it is a TOML table."""
        if isinstance(value, Mapping):
            return value
        self.add(path, f"expected a table, got {type_name(value)}")
        return None

    def string(self, value: Any, path: str, *, max_length: int | None = None) -> str | None:
        """`value` when it is a non-blank string (of at most max_length characters)."""
        if not isinstance(value, str):
            self.add(path, f"expected a string, got {type_name(value)}")
            return None
        if not value.strip():
            self.add(path, "must not be empty")
            return None
        if max_length is not None and len(value) > max_length:
            self.add(path, f"is longer than {max_length} characters")
            return None
        return value

    def integer(self, value: Any, path: str) -> int | None:
        """`value` when it is an integer (and not a boolean)."""
        # TOML booleans are Python ints; `capacity = true` is still a mistake.
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"expected an integer, got {type_name(value)}")
            return None
        return value

    def strings(self, value: Any, path: str, check: Check | None = None) -> list[tuple[str, str]]:
        """The good string elements of an array as (path, value), in order.

        Elements of another type, repeats and those `check` rejects are reported and left out.
        """
        if not isinstance(value, list):
            self.add(path, f"expected an array of strings, got {type_name(value)}")
            return []
        found: list[tuple[str, str]] = []
        seen: dict[str, str] = {}
        for index, element in enumerate(value):
            element_path = f"{path}[{index}]"
            text = self.string(element, element_path)
            if text is None:
                continue
            if text in seen:
                self.add(element_path, f"{quote(text)} is listed twice (first at {seen[text]})")
                continue
            seen[text] = element_path
            if check is not None and (message := check(text)) is not None:
                self.add(element_path, message)
                continue
            found.append((element_path, text))
        return found


def join(path: str, key: str) -> str:
    """The path of `key` inside the table at `path` (top level: the key alone)."""
    return f"{path}.{key}" if path else key


@dataclass
class Seen:
    """What earlier parts of the file defined, for duplicate and reference checks."""

    secretary_ids: set[str] = field(default_factory=set)
    agency_numbers: dict[str, str] = field(default_factory=dict)  # number -> owner
    inbox: str | None = None
    tenant_ids: dict[str, str] = field(default_factory=dict)  # id -> path
    secretary_paths: dict[str, str] = field(default_factory=dict)
    # number or address -> (path, owner: `tenant "acme"`, or the tenant's path)
    numbers: dict[str, tuple[str, str]] = field(default_factory=dict)
    addresses: dict[str, tuple[str, str]] = field(default_factory=dict)


def report(problems: Problems, path: str, message: str | None) -> bool:
    """Record `message` (a check's verdict) when there is one; True when there was."""
    if message is not None:
        problems.add(path, message)
    return message is not None


def string_at(
    table: Mapping[str, Any],
    path: str,
    key: str,
    problems: Problems,
    *,
    max_length: int | None = None,
) -> str | None:
    """The non-blank string at `key`; None when absent (required keys are checked apart)."""
    if key not in table:
        return None
    return problems.string(table[key], join(path, key), max_length=max_length)


def checked_at(
    table: Mapping[str, Any], path: str, key: str, problems: Problems, check: Check
) -> str | None:
    """The string at `key` when it passes `check`, else None."""
    text = string_at(table, path, key, problems)
    if text is None or report(problems, join(path, key), check(text)):
        return None
    return text


def checked_list_at(
    table: Mapping[str, Any], path: str, key: str, problems: Problems, check: Check
) -> list[str]:
    """The strings of the array at `key` that pass `check`."""
    if key not in table:
        return []
    return [text for _, text in problems.strings(table[key], join(path, key), check)]


def id_at(
    table: Mapping[str, Any], path: str, problems: Problems, defined: dict[str, str]
) -> str | None:
    """The slug id of a tenant or secretary, reporting a second definition of it."""
    value = checked_at(table, path, "id", problems, slug_problem)
    if value is None:
        return None
    if value in defined:
        first = defined[value]
        problems.add(join(path, "id"), f"{quote(value)} is defined twice (first at {first})")
        return None
    defined[value] = path
    return value


def claimed_values(
    table: Mapping[str, Any], path: str, key: str, tenant: str, problems: Problems, seen: Seen
) -> list[str]:
    """Phone numbers or email addresses of one tenant; each may belong to one tenant only.

    `tenant` names the tenant in messages (`tenant "acme"`, or its path when its id is bad).
    Addresses come back lowercased: mail routing compares them case-blind.
    """
    is_email = key == "email_addresses"
    claims = seen.addresses if is_email else seen.numbers
    array_path = join(path, key)
    array = table.get(key, [])
    if not isinstance(array, list):
        problems.add(array_path, f"expected an array of strings, got {type_name(array)}")
        return []
    found = []
    for index, element in enumerate(array):
        item_path = f"{array_path}[{index}]"
        text = problems.string(element, item_path)
        if text is None:
            continue
        if report(problems, item_path, (email_problem if is_email else e164_problem)(text)):
            continue
        value = text.lower() if is_email else text
        if is_email and value == seen.inbox:
            problems.add(item_path, f"{quote(text)} is the agency inbox itself")
        elif value in claims:
            first_path, owner = claims[value]
            problems.add(
                item_path,
                f"{quote(text)} is listed twice (first at {first_path})"
                if owner == tenant
                else f"{quote(text)} is already claimed by {owner} at {first_path}",
            )
        else:
            claims[value] = (item_path, tenant)
            found.append(value)
    return found


def secretary_references(
    table: Mapping[str, Any],
    path: str,
    key: str,
    problems: Problems,
    seen: Seen,
    primaries: dict[str, str],
) -> dict[str, str]:
    """Secretary ids a tenant lists under `key`, as id -> path; each must be defined."""

    def problem(secretary_id: str) -> str | None:
        if secretary_id not in seen.secretary_ids:
            return f"secretary {quote(secretary_id)} is not defined in [[secretaries]]" + (
                did_you_mean(secretary_id, seen.secretary_ids)
            )
        if secretary_id in primaries:
            return (
                f"{quote(secretary_id)} is already a primary secretary of this tenant "
                f"({primaries[secretary_id]}); one secretary cannot be both"
            )
        return None

    items = problems.strings(table.get(key, []), join(path, key), problem)
    return {secretary_id: item_path for item_path, secretary_id in items}


def tenant_languages(
    table: Mapping[str, Any], path: str, language: str | None, problems: Problems
) -> list[str]:
    """Every language a tenant serves, its main `language` first (the default: only it)."""
    if "languages" not in table:
        return [language] if language else []
    languages = checked_list_at(table, path, "languages", problems, language_problem)
    if table["languages"] == []:
        problems.add(join(path, "languages"), "must list at least one language")
    elif language and languages and languages[0] != language:
        problems.add(
            join(path, "languages") + "[0]",
            f"the first language must be the tenant's language {quote(language)}, "
            f"got {quote(languages[0])}",
        )
    return languages


def tenant_greetings(
    table: Mapping[str, Any],
    path: str,
    language: str | None,
    languages: list[str],
    problems: Problems,
    *,
    key: str = "greetings",
    main_key: str = "greeting",
) -> dict[str, str]:
    """Texts in the tenant's other languages (`greetings`, an IVR's `prompts`).

    The text in the main language is `main_key`, beside the table at `key`.
    """
    greetings_path = join(path, key)
    if key not in table:
        return {}
    greetings = problems.table(table[key], greetings_path)
    if greetings is None:
        return {}
    found = {}
    others = [other for other in languages if other != language]
    for other, value in greetings.items():
        key_path = join(greetings_path, other)
        if other == language:
            problems.add(
                key_path, f"the {main_key} in the main language {quote(other)} goes in {main_key}"
            )
        elif other not in others:
            allowed = ", ".join(others) or "none; list them in languages first"
            problems.add(
                key_path, f"{quote(other)} is not one of the tenant's other languages ({allowed})"
            )
        elif (text := problems.string(value, key_path)) is not None:
            found[other] = text
    return found
