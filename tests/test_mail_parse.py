"""The MIME parser on messages built here: charsets, HTML, attachments, size, forwards, kinds,
and broken mail. Persian samples use the Arabic yeh (ي): windows-1256 has no Persian yeh."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from integrations.imap import mime as mime_module
from integrations.imap.forwarded import jalali_to_gregorian, parse_lenient_date
from integrations.imap.parse import Address, MailKind, ParsedMail, parse_message

PERSIAN = "سلام، لطفاً براي فردا ساعت ده يک نوبت براي من بگذاريد. با تشکر، علي رضايي"
ARABIC = "مرحبا بكم في شركتنا، نرجو تأكيد الموعد"
TEHRAN = timezone(timedelta(hours=3, minutes=30))


def raw_message(body: bytes, **headers: str) -> bytes:
    """A message from header keyword arguments (underscores become dashes) and raw body bytes."""
    fields = {
        "From": "Ali Rezaei <Ali@Example.com>",
        "To": "inbox@agency.example",
        "Subject": "Test",
        "Date": "Mon, 04 Mar 2024 10:15:00 +0330",
        "Message-ID": "<m1@example.com>",
        "MIME-Version": "1.0",
    }
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items() if value)
    return head.encode("ascii", "surrogateescape") + b"\r\n" + body


def b64word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def ok(raw: bytes, **kwargs: int) -> ParsedMail:
    parsed = parse_message(raw, **kwargs)
    assert parsed.rejected is None, parsed.rejected
    return parsed


# --- Charsets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "charset"),
    [(PERSIAN, "windows-1256"), (ARABIC, "ISO-8859-6"), (PERSIAN, "utf-8"), (ARABIC, "cp1256")],
)
def test_declared_arabic_script_charsets_decode(text: str, charset: str) -> None:
    body = text.encode(charset)
    parsed = ok(raw_message(body, Content_Type=f'text/plain; charset="{charset}"'))
    assert parsed.text == text
    assert parsed.body_source == "text/plain"
    assert parsed.charsets == (charset.lower(),)
    assert parsed.defects == ()


@pytest.mark.parametrize("transfer", ["quoted-printable", "base64"])
def test_transfer_encodings_of_windows_1256(transfer: str) -> None:
    message = EmailMessage()
    message["Subject"] = "x"
    message.set_content(PERSIAN, charset="windows-1256", cte=transfer)
    assert ok(message.as_bytes()).text.strip() == PERSIAN


def test_utf8_with_a_byte_order_mark_loses_the_mark() -> None:
    raw = raw_message(b"\xef\xbb\xbf" + PERSIAN.encode(), Content_Type="text/plain; charset=utf-8")
    assert ok(raw).text == PERSIAN


@pytest.mark.parametrize("declared", [None, "us-ascii", "iso-8859-1", "utf-8"])
def test_persian_in_windows_1256_under_no_label_or_a_wrong_one_is_detected(
    declared: str | None,
) -> None:
    content_type = f"text/plain; charset={declared}" if declared else "text/plain"
    raw = raw_message(
        PERSIAN.encode("cp1256"), Content_Type=content_type, Content_Transfer_Encoding="8bit"
    )
    parsed = ok(raw)
    assert parsed.text == PERSIAN
    assert "\ufffd" not in parsed.text
    assert "windows-1256" in parsed.charsets
    assert any("windows-1256" in defect for defect in parsed.defects)


def test_short_undeclared_persian_is_detected_too() -> None:
    raw = raw_message("نوبت فردا".encode("cp1256"), Content_Transfer_Encoding="8bit")
    assert ok(raw).text == "نوبت فردا"


def test_utf8_mislabelled_windows_1256_is_read_as_utf8() -> None:
    raw = raw_message(PERSIAN.encode(), Content_Type="text/plain; charset=windows-1256")
    parsed = ok(raw)
    assert parsed.text == PERSIAN
    assert any("was utf-8" in defect for defect in parsed.defects)


@pytest.mark.parametrize(
    ("text", "charset"),
    [("Grüße aus München, Straße 5", "cp1252"), ("Привет, как дела? Это тест.", "koi8-r")],
)
def test_undeclared_non_persian_8bit_is_not_forced_into_arabic(text: str, charset: str) -> None:
    raw = raw_message(text.encode(charset), Content_Transfer_Encoding="8bit")
    assert ok(raw).text == text


def test_unknown_charset_label_still_reads_the_text() -> None:
    raw = raw_message(PERSIAN.encode(), Content_Type="text/plain; charset=x-unknown")
    parsed = ok(raw)
    assert parsed.text == PERSIAN
    assert any("unknown charset" in defect for defect in parsed.defects)


def test_header_words_in_arabic_script_charsets() -> None:
    raw = raw_message(
        b"body",
        Subject=f"{b64word('نوبت دندانپزشکي', 'windows-1256')} 2",
        From="=?ISO-8859-6?Q?=D3=E4=C7=E5?= <ali@example.com>",
        Cc=f'"{b64word("مريم", "utf-8")}" <Maryam@Example.com>',
    )
    parsed = ok(raw)
    assert parsed.subject == "نوبت دندانپزشکي 2"
    assert parsed.sender == Address("سلام", "ali@example.com")
    assert parsed.cc == (Address("مريم", "maryam@example.com"),)
    assert "windows-1256" in parsed.charsets


def test_a_utf8_character_split_across_two_header_words_is_rejoined() -> None:
    data = "نوبت".encode()
    first, second = (base64.b64encode(part).decode() for part in (data[:3], data[3:]))
    parsed = ok(raw_message(b"x", Subject=f"=?utf-8?B?{first}?= =?utf-8?B?{second}?="))
    assert parsed.subject == "نوبت"


def test_space_between_encoded_words_is_dropped_even_across_charsets() -> None:
    subject = f"{b64word('نوبت', 'utf-8')} {b64word('دندان', 'windows-1256')} ok"
    assert ok(raw_message(b"x", Subject=subject)).subject == "نوبتدندان ok"


def test_raw_8bit_windows_1256_headers_are_decoded() -> None:
    subject = "درخواست نوبت براي فردا".encode("cp1256").decode("ascii", "surrogateescape")
    name = "علي رضايي".encode("cp1256").decode("ascii", "surrogateescape")
    parsed = ok(raw_message(b"x", Subject=subject, From=f"{name} <ali@example.com>"))
    assert parsed.subject == "درخواست نوبت براي فردا"
    assert parsed.sender == Address("علي رضايي", "ali@example.com")


# --- HTML ---------------------------------------------------------------------------------

HTML = """<html><head><style>p { color: red }</style><script>alert("hidden")</script></head>
<body><div dir="rtl">سلام،</div><p>First paragraph.</p><p>Second &amp; last.</p>
<ul><li>one</li><li>two</li></ul></body></html>"""


def test_html_only_mail_becomes_readable_text() -> None:
    parsed = ok(raw_message(HTML.encode(), Content_Type="text/html; charset=utf-8"))
    assert parsed.body_source == "text/html"
    assert "<" not in parsed.text and "alert" not in parsed.text and "color" not in parsed.text
    assert "سلام،\n\nFirst paragraph.\n\nSecond & last." in parsed.text
    assert "* one" in parsed.text


def test_html_charset_from_a_meta_tag_when_mime_declares_none() -> None:
    html = f'<html><head><meta charset="windows-1256"></head><body><p>{PERSIAN}</p></body></html>'
    raw = raw_message(html.encode("cp1256"), Content_Type="text/html")
    assert ok(raw).text == PERSIAN


def test_plain_text_is_preferred_to_html() -> None:
    message = EmailMessage()
    message["Subject"] = "x"
    message.set_content("the plain version")
    message.add_alternative("<p>the <b>html</b> version</p>", subtype="html")
    parsed = ok(message.as_bytes())
    assert (parsed.text, parsed.body_source) == ("the plain version", "text/plain")


def test_html_alternative_is_used_when_plain_is_missing() -> None:
    message = EmailMessage()
    message["Subject"] = "x"
    message.add_alternative("<p>only <b>html</b></p>", subtype="html")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="a.pdf")
    parsed = ok(message.as_bytes())
    assert (parsed.text, parsed.body_source) == ("only html", "text/html")


# --- Attachments and size -------------------------------------------------------------------


def test_attachments_are_listed_with_their_size_and_not_inlined() -> None:
    message = EmailMessage()
    message["Subject"] = "Invoice"
    message.set_content("Please find the invoice attached.")
    pdf = b"%PDF-1.4 " + b"x" * 5000
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="فاکتور.pdf")
    message.add_attachment("secret notes", filename="notes.txt")
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="scan.png")
    parsed = ok(message.as_bytes())
    assert parsed.text == "Please find the invoice attached."
    assert [(a.filename, a.content_type, a.size) for a in parsed.attachments] == [
        ("فاکتور.pdf", "application/pdf", len(pdf)),
        ("notes.txt", "text/plain", len("secret notes\n")),
        ("scan.png", "image/png", 4),
    ]


def test_attachment_names_in_windows_1256_are_decoded() -> None:
    name = b64word("قرارداد.pdf", "windows-1256").encode()
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: application/pdf; name=\"" + name + b"\"\r\n"
        b"Content-Disposition: attachment; filename*=windows-1256''%DE%D1%C7%D1.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n"
    )  # fmt: skip
    parsed = ok(raw_message(body, Content_Type='multipart/mixed; boundary="b"'))
    assert [(a.filename, a.size) for a in parsed.attachments] == [("قرار.pdf", 4)]


def test_oversized_mail_keeps_headers_and_lists_attachments_without_decoding() -> None:
    message = EmailMessage()
    message["Subject"] = "Scans"
    message["From"] = "Ali <ali@example.com>"
    message["Message-ID"] = "<big@example.com>"
    message.set_content("BODY-MARKER")
    message.add_attachment(b"\0" * 20_000, maintype="application", subtype="zip", filename="s.zip")
    raw = message.as_bytes()
    parsed = ok(raw, max_bytes=10_000)
    assert parsed.oversized and parsed.size == len(raw)
    assert (parsed.subject, parsed.message_id) == ("Scans", "big@example.com")
    assert "over the 10,000-byte limit" in parsed.text and "BODY-MARKER" not in parsed.text
    assert parsed.body_source == "none"
    [attachment] = parsed.attachments
    # Estimated from the base64 text, not decoded.
    assert attachment.filename == "s.zip" and 19_500 < attachment.size < 20_500
    assert not ok(raw).oversized


# --- Headers, ids, recipients -------------------------------------------------------------


def test_identity_and_threading_headers() -> None:
    raw = raw_message(
        b"x",
        Message_ID=" <Abc.1@Mail.Example> ",
        In_Reply_To="<p1@example.com>",
        References="<r0@example.com>\r\n <p1@example.com>",
        Date="Mon, 04 Mar 2024 10:15:00 +0330",
        Reply_To="Desk <Desk@Example.com>",
    )
    parsed = ok(raw)
    assert parsed.message_id == "Abc.1@Mail.Example"
    assert parsed.in_reply_to == ("p1@example.com",)
    assert parsed.references == ("r0@example.com", "p1@example.com")
    assert parsed.date == datetime(2024, 3, 4, 6, 45, tzinfo=UTC)
    assert parsed.date is not None and parsed.date.utcoffset() == timedelta(hours=3, minutes=30)
    assert parsed.sender == Address("Ali Rezaei", "ali@example.com")
    assert parsed.reply_to == (Address("Desk", "desk@example.com"),)


def test_recipient_headers_in_trust_order_lowercased() -> None:
    raw = (
        b"Delivered-To: inbox@agency.example\r\nDelivered-To: Info@AcmeDental.example\r\n"
        b"X-Original-To: info@acmedental.example\r\nX-Forwarded-To: inbox+acme@agency.example\r\n"
        b"To: Front Desk <Info@AcmeDental.example>, other@x.example\r\nCc: boss@x.example\r\n"
        b"From: a@b.example\r\nSubject: s\r\n\r\nbody"
    )
    parsed = ok(raw)
    assert dict(parsed.recipients_headers) == {
        "delivered-to": ("inbox@agency.example", "info@acmedental.example"),
        "x-original-to": ("info@acmedental.example",),
        "x-forwarded-to": ("inbox+acme@agency.example",),
        "to": ("info@acmedental.example", "other@x.example"),
        "cc": ("boss@x.example",),
    }
    assert list(parsed.recipients_headers) == [
        "delivered-to", "x-original-to", "x-forwarded-to", "to", "cc"
    ]  # fmt: skip
    assert parsed.to[0] == Address("Front Desk", "info@acmedental.example")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 04 Mar 2024 10:15:00 -0000", datetime(2024, 3, 4, 10, 15, tzinfo=UTC)),
        ("4 Mar 2024 10:15 GMT", datetime(2024, 3, 4, 10, 15, tzinfo=UTC)),
        ("yesterday-ish", None),
    ],
)
def test_dates_are_aware_or_none(value: str, expected: datetime | None) -> None:
    parsed = ok(raw_message(b"x", Date=value))
    assert parsed.date == expected
    assert parsed.date is None or parsed.date.tzinfo is not None


# --- Forwarded mail -------------------------------------------------------------------------


def forward_of(text: str, subject: str = "Fwd: Invoice", html: bool = False) -> ParsedMail:
    content_type = "text/html; charset=utf-8" if html else "text/plain; charset=utf-8"
    return ok(raw_message(text.encode(), Subject=subject, Content_Type=content_type))


def test_attached_message_is_the_original_and_its_text_is_shown() -> None:
    inner = EmailMessage()
    inner["From"] = "Customer <Customer@Example.org>"
    inner["Subject"] = "Broken crown"
    inner["Date"] = "Sun, 03 Mar 2024 09:00:00 +0100"
    inner.set_content("My crown broke, can I come today?")
    inner.add_attachment(b"JPEG", maintype="image", subtype="jpeg", filename="tooth.jpg")
    outer = EmailMessage()
    outer["Subject"] = "Fwd: Broken crown"
    outer["From"] = "info@acmedental.example"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    parsed = ok(outer.as_bytes())
    assert parsed.original is not None
    assert parsed.original.sender == Address("Customer", "customer@example.org")
    assert parsed.original.subject == "Broken crown"
    assert parsed.original.date == datetime(2024, 3, 3, 8, 0, tzinfo=UTC)
    assert parsed.original.source == "rfc822"
    assert "See below." in parsed.text and "My crown broke, can I come today?" in parsed.text
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822", "image/jpeg"]


GMAIL = """Please handle this.

---------- Forwarded message ---------
From: Customer Name <customer@example.org>
Date: Mon, Mar 4, 2024 at 10:15 AM
Subject: Appointment
To: <info@acmedental.example>

Can I move my appointment?"""

GMAIL_FA = """لطفاً پيگيري کنيد.

---------- پیام بازارسال‌شده ---------
از: مريم احمدي <maryam@example.ir>
تاریخ: دوشنبه ۴ مارس ۲۰۲۴ ساعت ۱۰:۱۵ ب.ظ.
موضوع: نوبت
به: <info@acmedental.example>

سلام"""

OUTLOOK = """FYI

-----Original Message-----
From: Customer Name [mailto:customer@example.org]
Sent: Monday, March 4, 2024 10:15 AM
To: Info <info@acmedental.example>
Subject: Appointment

Can I move my appointment?"""

OUTLOOK_BARE = """FYI

________________________________
From: Customer Name <customer@example.org>
Sent: Monday, March 4, 2024 10:15 AM
To: Info <info@acmedental.example>
Subject: Appointment
"""

OUTLOOK_FA = """\u200fلطفاً بررسي کنيد

فرستنده: مريم احمدي <maryam@example.ir>
ارسال شده: ۱۴ اسفند ۱۴۰۲ ۲۲:۱۵
به: info@acmedental.example
موضوع: نوبت
"""

APPLE = """Sent from my iPhone

Begin forwarded message:

From: Customer Name <customer@example.org>
Subject: Appointment
Date: March 4, 2024 at 10:15:00 AM EST
To: info@acmedental.example

Can I move my appointment?"""


@pytest.mark.parametrize(
    ("text", "source", "sender", "subject", "date"),
    [
        (GMAIL, "inline-gmail", Address("Customer Name", "customer@example.org"), "Appointment",
         datetime(2024, 3, 4, 10, 15, tzinfo=TEHRAN)),
        (GMAIL_FA, "inline-gmail", Address("مريم احمدي", "maryam@example.ir"), "نوبت",
         datetime(2024, 3, 4, 22, 15, tzinfo=TEHRAN)),
        (OUTLOOK, "inline-outlook", Address("Customer Name", "customer@example.org"),
         "Appointment", datetime(2024, 3, 4, 10, 15, tzinfo=TEHRAN)),
        (OUTLOOK_BARE, "inline-outlook", Address("Customer Name", "customer@example.org"),
         "Appointment", datetime(2024, 3, 4, 10, 15, tzinfo=TEHRAN)),
        (OUTLOOK_FA, "inline-outlook", Address("مريم احمدي", "maryam@example.ir"), "نوبت",
         datetime(2024, 3, 4, 22, 15, tzinfo=TEHRAN)),
        (APPLE, "inline-apple", Address("Customer Name", "customer@example.org"), "Appointment",
         datetime(2024, 3, 4, 10, 15, tzinfo=timezone(timedelta(hours=-5)))),
    ],
)  # fmt: skip
def test_inline_forwards_give_the_original(
    text: str, source: str, sender: Address, subject: str, date: datetime
) -> None:
    parsed = forward_of(text)
    assert parsed.original is not None
    assert (parsed.original.source, parsed.original.sender) == (source, sender)
    assert (parsed.original.subject, parsed.original.date) == (subject, date)
    # Written without a zone, the date is read in the forwarder's (the outer Date's).
    assert parsed.original.date is not None and parsed.original.date.tzinfo is not None


def test_gmail_html_forward_is_found_in_the_converted_text() -> None:
    html = (
        '<div dir="ltr">Please handle<br><div class="gmail_quote"><div class="gmail_attr">'
        "---------- Forwarded message ---------<br>From: <strong>Customer Name</strong> "
        "<span>&lt;customer@example.org&gt;</span><br>Date: Mon, Mar 4, 2024 at 10:15 AM<br>"
        "Subject: Appointment<br>To: &lt;info@acmedental.example&gt;<br></div><br>"
        "<div>Can I move?</div></div></div>"
    )
    parsed = forward_of(html, html=True)
    assert parsed.original is not None
    assert parsed.original.sender == Address("Customer Name", "customer@example.org")
    assert parsed.original.subject == "Appointment"


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("Hi,\nFrom: the front desk we heard that\nSubject: teeth\nThanks", "Question"),
        (GMAIL, "Re: Fwd: Invoice"),  # a reply quoting a forward is no forward
        ("\n".join("> " + line for line in GMAIL.splitlines()), "Invoice"),
        ("-----Original Message-----\nFrom: a@b.example\nTo: c@d.example\n\nhello", "Fwd: x"),
        ("From: a@b.example\nDate: Mon, 4 Mar 2024 10:15:00 +0000\nSubject: x\n\nhi", "x"),
    ],
)
def test_only_a_real_forward_block_counts(text: str, subject: str) -> None:
    assert forward_of(text, subject=subject).original is None


def test_a_bounce_has_no_original_even_with_the_returned_message_attached() -> None:
    returned = EmailMessage()
    returned["From"] = "inbox@agency.example"
    returned["Subject"] = "Your appointment"
    returned.set_content("See you tomorrow")
    report = EmailMessage()
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["From"] = "MAILER-DAEMON@mx.example"
    report.set_content("The mail could not be delivered.")
    report.add_attachment(returned)
    parsed = ok(report.as_bytes())
    assert parsed.kind is MailKind.BOUNCE and parsed.original is None


# --- Kinds ---------------------------------------------------------------------------------


DSN = b"""From: Mail Delivery System <postmaster@mx.example>
To: inbox@agency.example
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

Your message could not be delivered.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example
Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1
--r
Content-Type: message/rfc822

From: inbox@agency.example
Subject: hello

hello
--r--
"""


@pytest.mark.parametrize(
    ("raw", "kind", "reason"),
    [
        (raw_message(b"I am away", Auto_Submitted="auto-replied"), MailKind.AUTO_REPLY,
         "Auto-Submitted: auto-replied"),
        (raw_message(b"away", X_Autoreply="yes"), MailKind.AUTO_REPLY, "X-Autoreply: yes"),
        (raw_message(b"digest", List_Id="Dentists <dentists.lists.example>"), MailKind.LIST,
         "List-Id: Dentists <dentists.lists.example>"),
        (raw_message(b"sale!", Precedence="bulk"), MailKind.BULK, "Precedence: bulk"),
        (DSN, MailKind.BOUNCE, "multipart/report; report-type=delivery-status"),
        (raw_message(b"Hello, I need an appointment."), MailKind.ORDINARY, ""),
    ],
)  # fmt: skip
def test_kind_comes_from_the_headers(raw: bytes, kind: MailKind, reason: str) -> None:
    parsed = ok(raw)
    assert (parsed.kind, parsed.kind_reason) == (kind, reason)


def test_bounce_text_is_the_human_readable_part() -> None:
    parsed = ok(DSN)
    assert parsed.text == "Your message could not be delivered."
    assert [a.content_type for a in parsed.attachments] == [
        "message/delivery-status", "message/rfc822"
    ]  # fmt: skip
    assert parsed.content_type == "multipart/report"
    assert "delivery-status" in parsed.headers["content-type"]


# --- Broken mail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"  \r\n\r\n", "empty message"),
        (b"\x00\x01\x02 binary junk \xff\xfe without any header", "no header fields"),
        (b"Content-Type: text/plain\r\n\r\n\r\n", "nothing to read"),
    ],
)
def test_what_is_not_a_message_is_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    parsed = parse_message(raw)
    assert parsed.rejected is not None and reason in parsed.rejected
    assert parsed.size == len(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # The closing boundary never comes.
        raw_message(
            b"--b\r\nContent-Type: text/plain\r\n\r\nhello",
            Content_Type="multipart/mixed; boundary=b",
        ),
        # A multipart without a boundary at all.
        raw_message(b"hello anyway", Content_Type="multipart/mixed"),
        # Base64 that is not.
        raw_message(b"!!!not base64!!!", Content_Transfer_Encoding="base64"),
        # A Content-Type with no subtype and junk parameters.
        raw_message(b"hello", Content_Type='text; charset="; ;=;'),
        # Headers of raw bytes no charset explains.
        raw_message(b"hello", Subject="\udcff\udcfe\udc80 odd"),
        # A header folded into an empty first line.
        b" folded\r\nSubject: s\r\n\r\nhello",
    ],
)  # fmt: skip
def test_broken_mime_is_read_as_far_as_possible(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert parsed.rejected is None
    assert parsed.subject or parsed.text
    assert not any("\ud800" <= char <= "\udfff" for char in parsed.subject + parsed.text)


def test_missing_end_boundary_is_recorded_as_a_defect() -> None:
    raw = raw_message(
        b"--b\r\nContent-Type: text/plain\r\n\r\nhello", Content_Type="multipart/mixed; boundary=b"
    )
    parsed = ok(raw)
    assert parsed.text == "hello"
    assert "CloseBoundaryNotFoundDefect" in parsed.defects


def test_deeply_nested_mime_stops_with_a_defect() -> None:
    depth = 40
    body = "--b0\r\n" + "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(1, depth)
    )
    body += "Content-Type: text/plain\r\n\r\ndeep"
    body += "".join(f"\r\n--b{i}--" for i in reversed(range(depth)))
    raw = raw_message(body.encode(), Subject="deep", Content_Type='multipart/mixed; boundary="b0"')
    parsed = ok(raw)
    assert parsed.subject == "deep" and parsed.text == ""
    assert any("MIME deeper than" in defect for defect in parsed.defects)


def test_an_address_header_too_deep_for_the_stdlib_does_not_sink_the_message() -> None:
    # As in MimeKit's stack-overflow.eml: thousands of encoded words where addresses belong.
    crowd = (
        "Ali <ali@example.com>," + "\r\n\t=?utf-8?Q?date=3E2017-08-20T10:08:28.617=3C/pr?=" * 3000
    )
    parsed = ok(raw_message(b"still here", To=crowd))
    assert parsed.text == "still here"
    assert "to: unreadable addresses (RecursionError)" in parsed.defects


def test_database_unsafe_characters_are_removed() -> None:
    parsed = ok(raw_message(b"a\x00b\x07c", Subject="x\x00y"))
    assert (parsed.text, parsed.subject) == ("abc", "xy")


def test_a_message_date_is_formatted_back_equal() -> None:
    when = datetime(2024, 3, 4, 10, 15, tzinfo=TEHRAN)
    assert ok(raw_message(b"x", Date=format_datetime(when))).date == when


def test_long_text_and_html_are_cut_with_a_defect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime_module, "MAX_TEXT_CHARS", 50)
    parsed = ok(raw_message(b"word " * 100))
    assert parsed.text.startswith("word word") and len(parsed.text) < 100
    assert "text cut at 50 characters of 500" in parsed.defects
    monkeypatch.setattr(mime_module, "MAX_HTML_CHARS", 40)
    html = b"<p>first paragraph</p>" + b"<p>later</p>" * 100
    parsed = ok(raw_message(html, Content_Type="text/html"))
    assert parsed.text.startswith("first paragraph") and parsed.text.count("later") < 3
    assert any(defect.startswith("HTML cut at 40 characters") for defect in parsed.defects)


@pytest.mark.parametrize(
    ("jalali", "gregorian"),
    [
        ((1403, 1, 1), (2024, 3, 20)),
        ((1402, 12, 14), (2024, 3, 4)),
        ((1399, 10, 11), (2020, 12, 31)),
        ((1403, 12, 30), (2025, 3, 20)),  # 1403 is a leap year
        ((1404, 1, 1), (2025, 3, 21)),
        ((1370, 6, 31), (1991, 9, 22)),
    ],
)
def test_jalali_dates_convert(
    jalali: tuple[int, int, int], gregorian: tuple[int, int, int]
) -> None:
    assert jalali_to_gregorian(*jalali) == gregorian


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("Mon, Mar 4, 2024 at 10:15 PM", datetime(2024, 3, 4, 22, 15, tzinfo=TEHRAN)),
        ("Monday, March 4, 2024 12:05 AM", datetime(2024, 3, 4, 0, 5, tzinfo=TEHRAN)),
        ("Tue, 12 Mar 2024 at 09:00 GMT+3:30", datetime(2024, 3, 12, 9, 0, tzinfo=TEHRAN)),
        ("March 4, 2024 at 10:15:00 AM PST", datetime(2024, 3, 4, 18, 15, tzinfo=UTC)),
        ("2024-03-04T10:15:00-05:00", datetime(2024, 3, 4, 15, 15, tzinfo=UTC)),
        ("Sat, 2 Mar 2024 09:15:00 +0000", datetime(2024, 3, 2, 9, 15, tzinfo=UTC)),
        ("دوشنبه ۴ مارس ۲۰۲۴ ساعت ۱۰:۱۵ ق.ظ.", datetime(2024, 3, 4, 10, 15, tzinfo=TEHRAN)),
        ("۱۴ اسفند ۱۴۰۲، ساعت ۲۲:۱۵", datetime(2024, 3, 4, 22, 15, tzinfo=TEHRAN)),
        ("۱۴۰۲/۱۲/۱۴ ۱۰:۱۵", datetime(2024, 3, 4, 10, 15, tzinfo=TEHRAN)),
        ("sometime next week", None),
        ("31 Feb 2024 10:00", None),
    ],
)
def test_dates_as_mail_clients_print_them(printed: str, expected: datetime | None) -> None:
    assert parse_lenient_date(printed, TEHRAN) == expected
