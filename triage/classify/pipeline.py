"""Reading one item: language, tenant rules, category model, priority, spam and entities.

Pure: the caller hands in the model (anything with `predict` and `version`), the tenant's
rules and the clock, and gets back one TriageResult that explains itself (`reasons`).
Rules run before the model; a model that is unsure leaves the category empty and asks for
a supervisor's review instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from triage.classify.entities import Entity, extract_entities
from triage.classify.language import detect_language
from triage.classify.priority import assess_priority
from triage.classify.rules import TenantRule, apply_rules
from triage.classify.spam import assess_spam
from triage.mail import MailKind
from triage.models import Category, Channel, Priority


class Predicts(Protocol):
    """What triage needs of a category model (triage.classify.model.TrainedModel)."""

    version: str

    def predict(self, texts: Sequence[str]) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class TriageInput:
    text: str
    channel: Channel
    subject: str = ""
    sender: str = ""
    vip: bool = False
    repeat: bool = False
    headers: Mapping[str, str] | None = None
    mail_kind: MailKind | None = None
    recording_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class TriageResult:
    language: str
    mixed: bool
    category: str | None
    confidence: float | None
    needs_review: bool
    priority: Priority
    spam: bool
    skill: str | None
    secretary: str | None
    entities: tuple[Entity, ...]
    reasons: tuple[str, ...]
    model_version: str | None
    features: tuple[tuple[str, float], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored on the item and printed by `monshi classify`."""
        return {
            "language": self.language,
            "mixed": self.mixed,
            "category": self.category,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "needs_review": self.needs_review,
            "priority": self.priority.value,
            "spam": self.spam,
            "skill": self.skill,
            "secretary": self.secretary,
            "entities": [entity.to_json() for entity in self.entities],
            "reasons": list(self.reasons),
            "model_version": self.model_version,
            "features": [[name, weight] for name, weight in self.features],
        }


@dataclass(frozen=True, slots=True)
class TriageRequest:
    """One item of a batch, with its client's rules, time zone and phone region."""

    item: TriageInput
    rules: Sequence[TenantRule] = ()
    timezone: str = "UTC"
    default_region: str = "US"


def triage(
    item: TriageInput,
    *,
    model: Predicts | None,
    rules: Sequence[TenantRule] = (),
    now: datetime,
    timezone: str = "UTC",
    default_region: str = "US",
) -> TriageResult:
    """Read one item and decide what it is, how urgent, whether spam, and why."""
    request = TriageRequest(item, rules=rules, timezone=timezone, default_region=default_region)
    return triage_many([request], model=model, now=now)[0]


def triage_many(
    requests: Sequence[TriageRequest], *, model: Predicts | None, now: datetime
) -> list[TriageResult]:
    """`triage` of each request, with one call of the model for all of them.

    The same result item by item as `triage` gives (the model reads each text on its own);
    what a batch saves is the model's fixed cost per call, most of its time on short mail.
    """
    drafts = [_read(request, now=now, model=model) for request in requests]
    wanted = [draft.full for draft in drafts if draft.wants_model]
    predictions = iter(model.predict(wanted) if model is not None and wanted else ())
    return [
        _decide(draft, next(predictions) if draft.wants_model else None, now=now)
        for draft in drafts
    ]


@dataclass(slots=True)
class _Draft:
    """What triage reads of an item before (and whatever) the model says."""

    request: TriageRequest
    full: str
    language: str
    mixed: bool
    entities: tuple[Entity, ...]
    category: str | None
    spam: bool
    wants_model: bool
    needs_review: bool
    reasons: list[str]
    model_version: str | None
    rule_priority: Priority | None
    rule_skill: str | None
    rule_secretary: str | None


def _read(request: TriageRequest, *, now: datetime, model: Predicts | None) -> _Draft:
    item = request.item
    full = f"{item.subject}\n{item.text}".strip() if item.subject else item.text
    reasons: list[str] = []
    guess = detect_language(full)
    reasons.append(f"language {guess.language}{' (mixed)' if guess.mixed else ''}: {guess.reason}")
    entities = tuple(
        extract_entities(
            full, now=now, timezone=request.timezone, default_region=request.default_region
        )
    )

    ruled = apply_rules(request.rules, text=item.text, subject=item.subject, sender=item.sender)
    reasons.extend(ruled.hits)

    spam = assess_spam(
        channel=item.channel,
        text=item.text,
        subject=item.subject,
        headers=item.headers,
        mail_kind=item.mail_kind,
        recording_seconds=item.recording_seconds,
        transcript=item.text if item.channel is Channel.CALL else None,
        sender=item.sender,
    )
    reasons.extend(spam.reasons)

    category, needs_review, wants_model = ruled.category, False, False
    if category is None and spam.spam:
        category = Category.SPAM.value
    elif category is None and model is not None and full.strip():
        wants_model = True
    elif category is None:
        needs_review = True
        reasons.append("nothing to read: needs review")
    return _Draft(
        request=request,
        full=full,
        language=guess.language,
        mixed=guess.mixed,
        entities=entities,
        category=category,
        spam=spam.spam,
        wants_model=wants_model,
        needs_review=needs_review,
        reasons=reasons,
        model_version=model.version if model is not None else None,
        rule_priority=ruled.priority,
        rule_skill=ruled.skill,
        rule_secretary=ruled.secretary,
    )


def _decide(draft: _Draft, prediction: Any, *, now: datetime) -> TriageResult:
    item = draft.request.item
    category, confidence, needs_review = draft.category, None, draft.needs_review
    reasons = draft.reasons
    features: tuple[tuple[str, float], ...] = ()
    if prediction is not None:
        confidence = float(prediction.confidence)
        features = tuple((str(name), float(weight)) for name, weight in prediction.top_features)
        words = ", ".join(name for name, _ in features[:3]) or "no telling n-grams"
        predicted = str(prediction.category.value)
        if prediction.needs_review:
            needs_review = True
            reasons.append(f"model unsure: {predicted} at {confidence:.2f} ({words}); needs review")
        else:
            category = predicted
            reasons.append(f"model: {predicted} at {confidence:.2f} ({words})")

    decided = assess_priority(
        item.text,
        subject=item.subject,
        vip=item.vip,
        repeat=item.repeat,
        entities=draft.entities,
        now=now,
        timezone=draft.request.timezone,
    )
    priority = decided.priority
    reasons.extend(decided.reasons)
    if draft.rule_priority is not None:
        priority = draft.rule_priority
    if draft.spam:
        priority = Priority.LOW
    skill = draft.rule_skill or (category if category not in (None, Category.SPAM.value) else None)
    return TriageResult(
        language=draft.language,
        mixed=draft.mixed,
        category=category,
        confidence=confidence,
        needs_review=needs_review,
        priority=priority,
        spam=draft.spam,
        skill=skill,
        secretary=draft.rule_secretary,
        entities=draft.entities,
        reasons=tuple(reasons),
        model_version=draft.model_version,
        features=features,
    )
