"""A tenant's own triage rules (`[[tenants.rules]]`), tried before the model: pure matching.

A rule has conditions (keywords, a regex, senders, numbers; AND-ed when several are given)
and actions (category, priority, skill, secretary). `apply_rules` tries the rules in file
order; each action is taken from the first matching rule that sets it, and a matching rule
with `stop` (the default) ends the search. Every rule that decided something leaves a
reason string, shown to the secretary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr

from triage.classify.normalize import normalize
from triage.models import Priority

RULE_ACTIONS = ("category", "priority", "skill", "secretary")


def keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern finding any of `keywords` as whole words in normalize()d text.

    Longer keywords come first, so "invoice copy" wins over "invoice" where both start.
    """
    forms = sorted({form for keyword in keywords if (form := normalize(keyword))}, key=len)
    if not forms:
        return None
    alternatives = "|".join(re.escape(form) for form in reversed(forms))
    # Not \b: a keyword may begin or end with a non-word character ("c#", "#order").
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


@dataclass(frozen=True, slots=True)
class TenantRule:
    """One `[[tenants.rules]]` entry, validated. Compares by its fields as written."""

    name: str
    keywords: tuple[str, ...] = ()  # as written; matched in their normalize()d form
    regex: str | None = None
    senders: tuple[str, ...] = ()  # email addresses, lowercased
    numbers: tuple[str, ...] = ()  # E.164
    category: str | None = None
    priority: Priority | None = None
    skill: str | None = None
    secretary: str | None = None
    stop: bool = True
    # Compiled once per rule (a rule lives in the directory snapshot, so once per config).
    _keyword_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _regex_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _keyword_forms: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        forms: dict[str, str] = {}
        for keyword in self.keywords:
            forms.setdefault(normalize(keyword), keyword)
        object.__setattr__(self, "_keyword_forms", forms)
        object.__setattr__(self, "_keyword_re", keyword_pattern(self.keywords))
        object.__setattr__(
            self, "_regex_re", re.compile(self.regex) if self.regex is not None else None
        )

    def match(self, *, normalized: str, raw: str, sender: str) -> list[str] | None:
        """What each condition matched ('keyword "x"', ...); None when any condition fails.

        `normalized` is normalize(subject + text), `raw` the same as written, `sender` the
        lowercased email address or the E.164 number of whoever sent or called.
        """
        found: list[str] = []
        if self.keywords:
            hit = self._keyword_re.search(normalized) if self._keyword_re else None
            if hit is None:
                return None
            found.append(f'keyword "{self._keyword_forms.get(hit.group(), hit.group())}"')
        if self._regex_re is not None:
            # As written first (so `\d{4}` sees the digits the sender typed), then normalized
            # (so a Persian pattern matches text typed with Arabic ي and ك).
            hit = self._regex_re.search(raw) or self._regex_re.search(normalized)
            if hit is None:
                return None
            found.append(f'regex matched "{_shorten(hit.group())}"')
        if self.senders:
            if sender not in self.senders:
                return None
            found.append(f'sender "{sender}"')
        if self.numbers:
            if sender not in self.numbers:
                return None
            found.append(f'number "{sender}"')
        return found


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What a tenant's rules decided; None where no rule set that action."""

    category: str | None = None
    priority: Priority | None = None
    skill: str | None = None
    secretary: str | None = None
    hits: tuple[str, ...] = ()  # 'rule "invoices to accounting": keyword "فاکتور"'

    @property
    def matched(self) -> bool:
        return bool(self.hits)


NO_RULES = RuleOutcome()


def apply_rules(
    rules: Sequence[TenantRule], *, text: str, subject: str = "", sender: str = ""
) -> RuleOutcome:
    """Run a tenant's rules over one item, in order; see the module docstring.

    `sender` is an email address (a "Name <address>" header is accepted) or an E.164 number.
    A rule that matches but whose actions earlier rules already took leaves no reason.
    """
    if not rules:
        return NO_RULES
    raw = f"{subject}\n{text}" if subject else text
    normalized = normalize(raw)
    who = _sender_key(sender)
    decided: dict[str, object] = {}
    hits: list[str] = []
    for rule in rules:
        found = rule.match(normalized=normalized, raw=raw, sender=who)
        if found is None:
            continue
        taken = [
            action
            for action in RULE_ACTIONS
            if action not in decided and getattr(rule, action) is not None
        ]
        for action in taken:
            decided[action] = getattr(rule, action)
        if taken:
            hits.append(f'rule "{rule.name}": ' + ", ".join(found))
        if rule.stop:
            break
    if not hits:
        return NO_RULES
    priority = decided.get("priority")
    return RuleOutcome(
        category=_text_or_none(decided.get("category")),
        priority=priority if isinstance(priority, Priority) else None,
        skill=_text_or_none(decided.get("skill")),
        secretary=_text_or_none(decided.get("secretary")),
        hits=tuple(hits),
    )


def _sender_key(sender: str) -> str:
    sender = sender.strip()
    if "<" in sender:
        sender = parseaddr(sender)[1]
    return sender.lower()


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
