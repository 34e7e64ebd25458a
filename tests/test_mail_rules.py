"""The pure mail rules: who wrote it (person or machine), which client, threading keys."""

from __future__ import annotations

import pytest

from triage.mail import (
    RECIPIENT_HEADERS,
    MailKind,
    TenantMatch,
    canonical_message_id,
    classify_automation,
    is_reply_subject,
    normalize_subject,
    resolve_tenant,
)

# --- classify_automation -------------------------------------------------------------------

HUMAN = {"from": "Ali <ali@example.com>", "subject": "Appointment tomorrow"}


@pytest.mark.parametrize(
    ("extra", "content_type", "kind", "reason"),
    [
        ({"auto-submitted": "auto-replied"}, "text/plain", "auto_reply",
         "Auto-Submitted: auto-replied"),
        ({"auto-submitted": "auto-generated (failure)"}, "text/plain", "auto_reply",
         "Auto-Submitted: auto-generated (failure)"),
        ({"auto-submitted": "Auto-Notified; owner-email=x@y"}, "text/plain", "auto_reply",
         "Auto-Submitted: Auto-Notified; owner-email=x@y"),
        ({"x-autoreply": "yes"}, "text/plain", "auto_reply", "X-Autoreply: yes"),
        ({"x-autorespond": "Vacation"}, "text/plain", "auto_reply", "X-Autorespond: Vacation"),
        ({"precedence": "auto_reply"}, "text/plain", "auto_reply", "Precedence: auto_reply"),
        ({"precedence": "bulk"}, "text/plain", "bulk", "Precedence: bulk"),
        ({"precedence": " Junk "}, "text/plain", "bulk", "Precedence: junk"),
        ({"precedence": "list"}, "text/plain", "list", "Precedence: list"),
        ({"list-id": "Dentists <dentists.lists.example>"}, "text/plain", "list",
         "List-Id: Dentists <dentists.lists.example>"),
        ({"list-unsubscribe": "<mailto:unsub@news.example>"}, "text/html", "bulk",
         "List-Unsubscribe"),
        ({}, 'multipart/report; report-type="delivery-status"; boundary=x', "bounce",
         "multipart/report; report-type=delivery-status"),
        ({}, "multipart/report; report-type=disposition-notification", "auto_reply",
         "multipart/report; report-type=disposition-notification"),
        ({"x-failed-recipients": "gone@example.com"}, "text/plain", "bounce",
         "X-Failed-Recipients"),
        ({"from": "Mail Delivery System <MAILER-DAEMON@mx.example>"}, "text/plain", "bounce",
         "From: MAILER-DAEMON"),
        ({"return-path": "<>", "subject": "Undelivered Mail Returned to Sender"},
         "text/plain", "bounce", "Return-Path: <> with a delivery-failure notice"),
        ({"return-path": "<>", "from": "postmaster@mx.example"}, "text/plain", "bounce",
         "Return-Path: <> with a delivery-failure notice"),
        ({"x-auto-response-suppress": "All", "subject": "Automatic reply: Appointment"},
         "text/plain", "auto_reply",
         "X-Auto-Response-Suppress: All with an out-of-office subject"),
        ({"x-auto-response-suppress": "OOF, DR", "subject": "پاسخ خودکار: نوبت"},
         "text/plain", "auto_reply",
         "X-Auto-Response-Suppress: OOF, DR with an out-of-office subject"),
    ],
)  # fmt: skip
def test_machine_mail_is_recognised_with_its_reason(
    extra: dict[str, str], content_type: str, kind: str, reason: str
) -> None:
    assert classify_automation({**HUMAN, **extra}, content_type) == (MailKind(kind), reason)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"auto-submitted": "no"},
        {"auto-submitted": "No (a person wrote this)"},
        {"precedence": "first-class"},
        # Outlook asks for no auto-reply on ordinary mail: alone it proves nothing.
        {"x-auto-response-suppress": "All"},
        # A null Return-Path without any failure notice (e.g. a calendar notice a person sent).
        {"return-path": "<>"},
        {"x-autoreply": "no"},
    ],
)
def test_person_written_mail_is_ordinary(extra: dict[str, str]) -> None:
    assert classify_automation({**HUMAN, **extra}, "text/plain") == (MailKind.ORDINARY, "")


def test_bounce_outranks_auto_submitted() -> None:
    headers = {**HUMAN, "auto-submitted": "auto-replied", "from": "MAILER-DAEMON@mx.example"}
    assert classify_automation(headers, "text/plain")[0] is MailKind.BOUNCE


def test_header_names_are_matched_whatever_their_case() -> None:
    assert classify_automation({"Auto-Submitted": "auto-replied"}, "TEXT/PLAIN")[0] == "auto_reply"


def test_client_own_google_group_is_not_a_mailing_list() -> None:
    headers = {
        **HUMAN,
        "list-id": "<info.acmedental.example>",
        "precedence": "list",
        "list-unsubscribe": "<mailto:info+unsubscribe@acmedental.example>",
    }
    assert classify_automation(headers, "text/plain")[0] is MailKind.LIST
    own = ["info@acmedental.example"]
    assert classify_automation(headers, "text/plain", own_addresses=own) == (MailKind.ORDINARY, "")
    by_post = {
        **HUMAN,
        "list-id": "Front desk <xyz123>",
        "list-post": "<mailto:Info@AcmeDental.example>",
    }
    assert classify_automation(by_post, "text/plain", own_addresses=own)[0] is MailKind.ORDINARY
    # Someone else's list stays a list even when the client is subscribed.
    other = {**HUMAN, "list-id": "<dentists.lists.example>"}
    assert classify_automation(other, "text/plain", own_addresses=own)[0] is MailKind.LIST


def test_own_list_does_not_hide_an_auto_reply() -> None:
    headers = {**HUMAN, "list-id": "<info.acmedental.example>", "auto-submitted": "auto-replied"}
    own = ["info@acmedental.example"]
    assert classify_automation(headers, "text/plain", own_addresses=own)[0] is MailKind.AUTO_REPLY


def test_both_spellings_of_the_kinds_are_one_enum() -> None:
    assert MailKind.auto_reply is MailKind.AUTO_REPLY
    assert [kind.value for kind in MailKind] == ["ordinary", "auto_reply", "bounce", "bulk", "list"]


# --- resolve_tenant ---------------------------------------------------------------------------

INBOX = "inbox@agency.example"
TENANTS = ("acme-dental", "parsian-law")
ADDRESSES = {
    "info@acmedental.example": "acme-dental",
    "billing@acmedental.example": "acme-dental",
    "office@parsianlaw.example": "parsian-law",
}


def resolve(recipients: dict[str, list[str]]) -> TenantMatch:
    return resolve_tenant(recipients, INBOX, ADDRESSES, TENANTS)


def test_plus_tag_of_the_agency_inbox_names_the_tenant() -> None:
    match = resolve({"to": ["Inbox+Acme-Dental@Agency.Example"]})
    assert match == TenantMatch("acme-dental", "inbox+acme-dental@agency.example", "to", ())


def test_plus_tag_wins_over_a_tenant_address_in_a_stronger_header() -> None:
    match = resolve(
        {"delivered-to": ["office@parsianlaw.example"], "cc": ["inbox+acme-dental@agency.example"]}
    )
    assert (match.tenant_id, match.header, match.ambiguous) == ("acme-dental", "cc", ())


@pytest.mark.parametrize(
    "address",
    [
        "inbox+nobody@agency.example",
        "inbox+acme-dental@other.example",
        "box+acme-dental@agency.example",
    ],
)
def test_a_plus_tag_counts_only_on_the_inbox_with_a_known_tenant(address: str) -> None:
    assert resolve({"to": [address]}) == TenantMatch(None, None, None, ())


def test_headers_are_trusted_in_delivery_order() -> None:
    match = resolve(
        {
            "cc": ["office@parsianlaw.example"],
            "to": ["someone@elsewhere.example"],
            "x-original-to": ["Billing@AcmeDental.example"],
        }
    )
    assert match.tenant_id == "acme-dental"
    assert (match.matched, match.header) == ("billing@acmedental.example", "x-original-to")
    assert match.ambiguous == ("parsian-law",)


def test_every_recipient_header_is_consulted() -> None:
    for header in RECIPIENT_HEADERS:
        assert resolve({header: ["info@acmedental.example"]}).header == header


def test_two_addresses_of_one_tenant_are_not_ambiguous() -> None:
    match = resolve({"to": ["info@acmedental.example"], "cc": ["billing@acmedental.example"]})
    assert (match.tenant_id, match.ambiguous) == ("acme-dental", ())


def test_two_tenants_in_one_header_pick_the_first_and_name_the_other() -> None:
    match = resolve({"to": ["office@parsianlaw.example", "info@acmedental.example"]})
    assert (match.tenant_id, match.ambiguous) == ("parsian-law", ("acme-dental",))


def test_two_plus_tags_are_ambiguous() -> None:
    match = resolve(
        {"to": ["inbox+parsian-law@agency.example"], "cc": ["inbox+acme-dental@agency.example"]}
    )
    assert (match.tenant_id, match.ambiguous) == ("parsian-law", ("acme-dental",))


def test_sub_address_of_a_tenant_address_belongs_to_the_tenant() -> None:
    assert resolve({"to": ["info+orders@acmedental.example"]}).tenant_id == "acme-dental"


def test_no_match_is_unmatched() -> None:
    assert resolve({"to": ["stranger@example.com"], "delivered-to": [INBOX]}) == TenantMatch(
        None, None, None, ()
    )
    assert resolve({}).tenant_id is None


def test_header_names_may_come_in_any_case() -> None:
    assert resolve({"Delivered-To": ["info@acmedental.example"]}).header == "delivered-to"


# --- normalize_subject / canonical_message_id --------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: RE: Fwd:  Appointment   Tomorrow", "appointment tomorrow"),
        ("FW: Fw: AW: WG: invoice", "invoice"),
        ("Re[2]: Re(3): invoice", "invoice"),
        ("RE : invoice", "invoice"),
        ("Re：invoice", "invoice"),
        ("پاسخ: نوبت دندانپزشکی", "نوبت دندانپزشکی"),
        ("پاسخ به: پاسخ: نوبت", "نوبت"),
        ("ارسال مجدد: قرارداد", "قرارداد"),
        ("باز ارسال: Re: قرارداد", "قرارداد"),
        ("بازارسال\u200cشده: قرارداد", "قرارداد"),
        ("ر: رد: مرحبا", "مرحبا"),
        ("Fwd: Re: پاسخ: invoice", "invoice"),
        ("invoice (fwd)", "invoice"),
        ("[acme] Re: Help", "[acme] help"),
        ("Re: [acme] Help", "[acme] help"),
        ("[#12] Help", "[#12] help"),
        # Arabic letters that Persian text arrives with compare equal to the Persian ones.
        ("Re: نوبت علي", "نوبت علی"),
        ("Regarding: the contract", "regarding: the contract"),
        ("Resume attached", "resume attached"),
    ],
)
def test_normalize_subject(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "reply"),
    [
        ("Re: invoice", True),
        ("RE[2]: invoice", True),
        ("AW: invoice", True),
        ("پاسخ: نوبت", True),
        ("[acme] Re: invoice", True),
        ("Fwd: Re: invoice", False),  # forwarded first: a forward
        ("باز ارسال: نوبت", False),
        ("invoice", False),
        ("Resume attached", False),
    ],
)
def test_is_reply_subject(subject: str, reply: bool) -> None:
    assert is_reply_subject(subject) is reply


def test_different_ticket_tags_stay_different_threads() -> None:
    assert normalize_subject("Re: [#12] Help") != normalize_subject("Re: [#13] Help")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc.123@Mail.Example>", "abc.123@Mail.Example"),
        ("  <abc@x>  ", "abc@x"),
        ("abc@x", "abc@x"),
        ("<abc@x> (comment)", "abc@x"),
        ("<abc\r\n @x>", "abc@x"),
    ],
)
def test_canonical_message_id(value: str, expected: str) -> None:
    assert canonical_message_id(value) == expected
