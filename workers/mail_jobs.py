"""The mail ingest job: raw messages the IMAP connector stored, in; items or recorded
rejections, out.

Errors have two tiers, told apart in one place (`_try`):

- **This message**: whatever parsing it, resolving its tenant or writing its own rows
  raises, including the database refusing one of its values (DataError) or a unique key a
  concurrent job took first (IntegrityError). The error is recorded on its row, the batch
  goes on, and the message is tried again at once (a lost race resolves itself); after
  MAIL_MAX_ATTEMPTS tries it is quarantined for supervisors. It never blocks the mailbox.
- **The system**: the database or Redis not answering, the schema missing, a statement
  our own code got wrong (every message would fail alike), RQ's job timeout. These are
  raised, so RQ retries the whole job; rows already done stay done and a retry only does
  those still `stored`, fresh ones first.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import redis
import sqlalchemy.exc
from rq.timeouts import BaseTimeoutException

from integrations.imap.parse import parse_message
from triage.errors import SchemaNotReady
from triage.mail import (
    Address,
    MailKind,
    ParsedMail,
    TenantMatch,
    canonical_message_id,
    classify_automation,
    normalize_subject,
    resolve_tenant,
)
from triage.mail_threading import (
    answered_ids,
    clip,
    content_digest,
    dedupe_key,
    thread_subject,
)
from triage.store.mail_items import (
    BatchTriage,
    InboundMail,
    IngestOutcome,
    IngestResult,
    MailDirectory,
    MailStore,
    PendingMail,
)
from workers.context import ContextMissing, current
from workers.triage_batch import MailTriage, triage_and_queue_many

log = logging.getLogger(__name__)

SYSTEM_FAULTS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,  # database down, connection lost, SQLite busy
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.ProgrammingError,  # schema or SQL wrong: not this message's doing
    sqlalchemy.exc.TimeoutError,  # connection pool exhausted
    SchemaNotReady,
    redis.RedisError,
    BaseTimeoutException,  # RQ's job timeout: this run's time is up
    ContextMissing,
    MemoryError,
)
# A reply's own text kept in the item's message list (the raw message stays stored whole).
MAX_REPLY_TEXT = 50_000
MEGABYTE = 1024 * 1024


class Parse(Protocol):
    def __call__(self, raw: bytes, *, max_bytes: int) -> ParsedMail: ...


class BatchTriager(Protocol):
    """Triage of a batch's messages before their items exist (workers.triage_batch.MailTriage)."""

    def decide(self, mails: Sequence[InboundMail]) -> BatchTriage | None: ...

    def queued(self, items: Sequence[tuple[int, int]]) -> None: ...


def ingest_mail_batch(mail_ids: list[int]) -> dict[str, int]:
    """RQ job: ingest a batch of stored messages (mail_messages ids); returns outcome counts.

    Idempotent: rows no longer `stored` are skipped, so a batch enqueued or run twice does
    nothing the second time. New ordinary items are triaged and routed here, in this
    process, as one batch.
    """
    ctx = current()
    return ingest_stored_mail(
        MailStore(ctx.repository),
        mail_ids,
        on_created=lambda item_ids: triage_and_queue_many(
            ctx, item_ids, system_faults=SYSTEM_FAULTS
        ),
        triage=MailTriage(ctx),
    )


def ingest_stored_mail(
    store: MailStore,
    mail_ids: Sequence[int],
    *,
    parse: Parse = parse_message,
    on_created: Callable[[list[int]], object] | None = None,
    triage: BatchTriager | None = None,
) -> dict[str, int]:
    """Ingest each still-stored message of `mail_ids`; returns outcome counts.

    Messages never tried are parsed, then ingested together in one transaction
    (`MailStore.ingest_many`). A message that fails to parse or resolve, and every message
    of a batch whose transaction failed, goes on one at a time (`_try`: one transaction
    each, tried again until done or quarantined), as do messages tried before (one of them
    may have stopped the worker: it must not take the others down with it again).

    A new ordinary item is routed in the transaction that creates it (`pool_for`, as the
    `ingest_item` job routes other channels) rather than by an enqueued `ingest_item`: an
    RQ job costs more than the rest of ingest, and one commit leaves no item `received`.
    `on_created` then gets the ids of the new ordinary items, once per call.

    With `triage`, the batch's ordinary messages are triaged before its transaction, and
    their new items stored triaged (`BatchTriage`); `triage.queued` then gets those (mail
    id, item id), and `on_created` only the others (made one by one, or whose triage did not
    hold). If triage fails but for a system fault, the batch goes on without it.
    """
    counts: dict[str, int] = {}
    created: list[int] = []
    triaged: list[tuple[int, int]] = []

    def count(outcome: str) -> None:
        counts[outcome] = counts.get(outcome, 0) + 1

    with store.batch():
        pending = store.pending_ids(mail_ids)
        if pending:
            directory = store.directory()  # read once per run, and only when there is work
            fresh = store.begin_attempts(pending)
            one_by_one: list[tuple[int, PendingMail | None]] = []
            ready: list[tuple[PendingMail, InboundMail, TenantMatch]] = []
            for mail in fresh:
                try:
                    prepared = _prepare(mail, directory, parse)
                except SYSTEM_FAULTS:
                    raise
                except Exception:  # tried (and its failure recorded) one by one below
                    one_by_one.append((mail.id, mail))
                    continue
                if isinstance(prepared, str):
                    count(_reject(store, mail, prepared))
                else:
                    ready.append((mail, *prepared))
            inbounds = [inbound for _, inbound, _ in ready]
            try:
                results = store.ingest_many(inbounds, triage=_decide(triage, inbounds))
            except SYSTEM_FAULTS:
                raise
            except Exception as error:
                log.warning(
                    "mail batch of %d failed (%s); one message at a time instead",
                    len(ready),
                    type(error).__name__,
                )
                one_by_one = [(mail.id, mail) for mail, _, _ in ready] + one_by_one
            else:
                for (mail, _, match), result in zip(ready, results, strict=True):
                    count(_settled(mail.id, match, result, created, triaged))
            counted = {mail.id for mail in fresh}
            one_by_one += [(mail_id, None) for mail_id in pending if mail_id not in counted]
            for mail_id, first in one_by_one:
                count(_try(store, directory, mail_id, parse, created, first=first))
    if triage is not None and triaged:
        triage.queued(triaged)
    # Triage reads the new items, all at once, after the batch's connection is done with them.
    if on_created is not None and created:
        on_created(created)
    if counts:
        log.info("mail ingest: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return counts


def _try(
    store: MailStore,
    directory: MailDirectory,
    mail_id: int,
    parse: Parse,
    created: list[int],
    *,
    first: PendingMail | None = None,
) -> str:
    """Try one message until it is done or quarantined; system faults propagate.

    `first`: the message with its try already counted (by `begin_attempts`).
    """
    pending = first
    while True:
        if pending is None:
            pending = store.begin_attempt(mail_id)
        if pending is None:
            return _final_status(store, mail_id)
        try:
            return _ingest_one(store, directory, pending, parse, created)
        except SYSTEM_FAULTS:
            raise
        except Exception as error:
            description = "".join(traceback.format_exception(error, limit=-6))
            quarantined = store.record_failure(mail_id, description)
            # The type only: an exception's text may quote an address from the message.
            log.warning(
                "mail %s: attempt %d failed (%s)%s",
                mail_id,
                pending.attempts,
                type(error).__name__,
                "; quarantined" if quarantined else "",
            )
            if quarantined:
                return "quarantined"
        pending = None


def _decide(triage: BatchTriager | None, mails: Sequence[InboundMail]) -> BatchTriage | None:
    """The batch's triage, or None (its items are triaged after the commit instead)."""
    if triage is None or not mails:
        return None
    try:
        return triage.decide(mails)
    except SYSTEM_FAULTS:
        raise
    except Exception as error:
        log.warning(
            "triage of a mail batch of %d failed (%s); its items are triaged after it",
            len(mails),
            type(error).__name__,
        )
        return None


def _final_status(store: MailStore, mail_id: int) -> str:
    status = store.record(mail_id).status
    if status == "quarantined":
        log.warning("mail %s: quarantined, no try ever finished", mail_id)
    return status


def _prepare(
    pending: PendingMail, directory: MailDirectory, parse: Parse
) -> tuple[InboundMail, TenantMatch] | str:
    """The message as the store takes it, or the reason it cannot become an item."""
    # The connector applies the configured size cap: it fetched the whole message when it
    # was under it, else only its header (`size` then says how big it really is). So parse
    # a whole message whole, and tell the parser a header-only one is over the limit.
    truncated = pending.size > len(pending.raw)
    parsed = parse(pending.raw, max_bytes=max(len(pending.raw) - truncated, 1))
    if parsed.rejected:
        return parsed.rejected
    match = resolve_tenant(
        parsed.recipients_headers,
        directory.inbox or "",
        directory.tenant_of_address,
        directory.tenant_ids,
    )
    return inbound_mail(pending, parsed, match, directory), match


def _reject(store: MailStore, pending: PendingMail, reason: str) -> str:
    log.info("mail %s: rejected: %s", pending.id, reason)
    store.reject(pending.id, reason)
    return "rejected"


def _settled(
    mail_id: int,
    match: TenantMatch,
    result: IngestResult,
    created: list[int],
    triaged: list[tuple[int, int]] | None = None,
) -> str:
    # Machine mail is recorded as FILTERED, so a created item is ordinary mail.
    if result.outcome is IngestOutcome.CREATED and result.item_id is not None:
        if result.triaged and triaged is not None:
            triaged.append((mail_id, result.item_id))
        else:
            created.append(result.item_id)
    log.info(
        "mail %s: %s item %s (tenant %s)",
        mail_id,
        result.outcome.value,
        result.item_id,
        match.tenant_id or "unmatched",
    )
    return result.outcome.value


def _ingest_one(
    store: MailStore,
    directory: MailDirectory,
    pending: PendingMail,
    parse: Parse,
    created: list[int],
) -> str:
    prepared = _prepare(pending, directory, parse)
    if isinstance(prepared, str):
        return _reject(store, pending, prepared)
    inbound, match = prepared
    return _settled(pending.id, match, store.ingest(inbound), created)


def inbound_mail(
    pending: PendingMail, parsed: ParsedMail, match: TenantMatch, directory: MailDirectory
) -> InboundMail:
    """What the store needs of a parsed message: dedupe key, thread keys, item fields."""
    kind, kind_reason = _kind(parsed, match, directory)
    original = parsed.original
    author = original.sender if original and original.sender else parsed.sender
    subject = original.subject if original and original.subject else parsed.subject
    message_id = canonical_message_id(parsed.message_id) if parsed.message_id else None
    answers = answered_ids(
        [canonical_message_id(value) for value in parsed.in_reply_to],
        [canonical_message_id(value) for value in parsed.references],
    )
    oversized = parsed.oversized or pending.size > len(pending.raw)
    normalized_subject = normalize_subject(subject)
    first_to = parsed.to[0].address if parsed.to else ""
    mail: dict[str, Any] = {
        "mail_id": pending.id,
        "message_id": message_id,
        "from": _address(parsed.sender),
        "to": [_address(a) for a in parsed.to],
        "cc": [_address(a) for a in parsed.cc],
        "subject": parsed.subject,
        "date": parsed.date.isoformat() if parsed.date else None,
        "original": _original(parsed),
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in parsed.attachments
        ],
        "kind": kind,
        "kind_reason": kind_reason,
        "charsets": list(parsed.charsets),
        "defects": list(parsed.defects),
        "body_source": parsed.body_source,
        "size": pending.size,
        "oversized": oversized,
        "tenant_match": {
            "matched": match.matched,
            "header": match.header,
            "ambiguous": list(match.ambiguous),
        },
        # What a later reply's subject is compared with (the subject rule).
        "normalized_subject": normalized_subject,
    }
    key = dedupe_key(match.tenant_id, message_id, content_digest(pending.raw))
    body = _oversized_notice(pending.size, parsed) if oversized else parsed.text
    return InboundMail(
        mail_id=pending.id,
        key=key,
        tenant_id=match.tenant_id,
        message_id=message_id,
        answers=answers,
        sender=author.address if author else "",
        recipient=match.matched or first_to,
        subject=subject,
        thread_subject=thread_subject(subject, answers_something=bool(answers)),
        body=body,
        kind=kind,
        kind_reason=kind_reason,
        mail=mail,
        summary={
            "mail_id": pending.id,
            "message_id": message_id,
            "key": key,
            "from": _address(author),
            "subject": subject,
            "date": mail["date"],
            "attachments": mail["attachments"],
            "text": clip(body, MAX_REPLY_TEXT),
        },
    )


def _kind(parsed: ParsedMail, match: TenantMatch, directory: MailDirectory) -> tuple[str, str]:
    """The parser's verdict, except that a list which is the client's own address (a Google
    Group used as info@) delivers ordinary mail: only here is the client known."""
    if parsed.kind in (MailKind.LIST, MailKind.BULK) and match.tenant_id is not None:
        own = [a for a, t in directory.tenant_of_address.items() if t == match.tenant_id]
        if directory.inbox:
            local, _, domain = directory.inbox.partition("@")
            own += [directory.inbox, f"{local}+{match.tenant_id}@{domain}"]
        kind, reason = classify_automation(parsed.headers, parsed.content_type, own_addresses=own)
        return kind.value, reason
    return parsed.kind.value, parsed.kind_reason


def _address(address: Address | None) -> dict[str, str] | None:
    return None if address is None else {"name": address.name, "address": address.address}


def _original(parsed: ParsedMail) -> dict[str, Any] | None:
    original = parsed.original
    if original is None:
        return None
    return {
        "from": _address(original.sender),
        "subject": original.subject,
        "date": original.date.isoformat() if original.date else None,
        "source": original.source,
        # Whoever forwarded it (the client) stays on record.
        "forwarded_by": _address(parsed.sender),
    }


def _oversized_notice(size: int, parsed: ParsedMail) -> str:
    lines = [f"message too large to show: {size / MEGABYTE:.1f} MB"]
    if parsed.attachments:
        lines.append("attachments:")
        lines += [
            f"- {a.filename or '(unnamed)'} ({a.content_type}, {a.size / MEGABYTE:.1f} MB)"
            for a in parsed.attachments
        ]
    return "\n".join(lines)


__all__ = ["SYSTEM_FAULTS", "inbound_mail", "ingest_mail_batch", "ingest_stored_mail"]
