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
    full = f"{item.subject}\n{item.text}".strip() if item.subject else item.text
    reasons: list[str] = []
    guess = detect_language(full)
    reasons.append(f"language {guess.language}{' (mixed)' if guess.mixed else ''}: {guess.reason}")
    entities = tuple(
        extract_entities(full, now=now, timezone=timezone, default_region=default_region)
    )

    ruled = apply_rules(rules, text=item.text, subject=item.subject, sender=item.sender)
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

    category, confidence, needs_review = ruled.category, None, False
    features: tuple[tuple[str, float], ...] = ()
    model_version = model.version if model is not None else None
    if category is None and spam.spam:
        category = Category.SPAM.value
    elif category is None and model is not None and full.strip():
        prediction = model.predict([full])[0]
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
    elif category is None:
        needs_review = True
        reasons.append("nothing to read: needs review")

    decided = assess_priority(
        item.text,
        subject=item.subject,
        vip=item.vip,
        repeat=item.repeat,
        entities=entities,
        now=now,
        timezone=timezone,
    )
    priority = decided.priority
    reasons.extend(decided.reasons)
    if ruled.priority is not None:
        priority = ruled.priority
    if spam.spam:
        priority = Priority.LOW
    skill = ruled.skill or (category if category not in (None, Category.SPAM.value) else None)
    return TriageResult(
        language=guess.language,
        mixed=guess.mixed,
        category=category,
        confidence=confidence,
        needs_review=needs_review,
        priority=priority,
        spam=spam.spam,
        skill=skill,
        secretary=ruled.secretary,
        entities=entities,
        reasons=tuple(reasons),
        model_version=model_version,
        features=features,
    )
