"""Every real message of the shared corpus through the parser (../shared/corpus/mime).

No exception, and each message gives either something a person can read (a subject, text or
an attachment) or a rejection with its reason. INDEX.csv lists each file with its traits,
which the parse must agree with: HTML-only mail comes out as text, auto-submitted mail and
reports are not ordinary, Arabic-script text survives.
"""

from __future__ import annotations

import csv
import re

import pytest

from integrations.imap.parse import ParsedMail, parse_message
from tests.conftest import SHARED_CORPUS

MIME = SHARED_CORPUS / "mime"
INDEX = MIME / "INDEX.csv"


def read_index() -> list[dict[str, str]]:
    if not INDEX.exists():
        return []  # the first test below fails and says where the corpus was expected
    with INDEX.open(encoding="utf-8", newline="") as index:
        return list(csv.DictReader(index))


ROWS = read_index()

# The corpus holds two messages nobody could make an item of; anything else rejected is a bug.
KNOWN_REJECTIONS = {
    "cpython-test_email/msg_18.txt": "nothing to read",  # headers only, empty body
    "cpython-test_email/msg_19.txt": "no header fields",  # a digest's body, no headers
}
HTML_MARKUP = re.compile(
    r"</?(html|head|body|div|p|br|span|table|tr|td|font|a|img|style|script|meta|center)\b[^>]*>",
    re.IGNORECASE,
)
ARABIC_RUN = re.compile("[\u0620-\u064a\u067e\u0686\u0698\u06a9\u06af\u06cc]{5,}")
ARABIC_LETTER = re.compile("[\u0620-\u064a\u067e\u0686\u0698\u06a9\u06af\u06cc]")
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def row_id(row: dict[str, str]) -> str:
    return row["file"]


def parse(row: dict[str, str]) -> tuple[bytes, ParsedMail]:
    raw = (MIME / row["file"]).read_bytes()
    return raw, parse_message(raw)


def corpus_files() -> set[str]:
    return {str(path.relative_to(MIME)) for path in MIME.rglob("*") if path.is_file()}


def is_documentation(name: str) -> bool:
    return name.endswith((".upstream", ".md", "INDEX.csv"))


def test_the_index_lists_every_single_message_of_the_corpus() -> None:
    assert len(ROWS) >= 400, f"corpus missing or cut short at {MIME}"
    listed = {row["file"] for row in ROWS}
    unlisted = corpus_files() - listed
    assert listed <= corpus_files()
    # Besides documentation, the index leaves out only mailboxes and an Outlook .msg file,
    # which the next test covers.
    assert all(is_documentation(name) or name.endswith((".mbox", ".msg")) for name in unlisted)


def unlisted_messages() -> list[tuple[str, bytes]]:
    """The messages of the mbox files, split on their "From " lines, and the .msg file."""
    if not MIME.is_dir():
        return []
    messages: list[tuple[str, bytes]] = []
    for name in sorted(corpus_files() - {row["file"] for row in ROWS}):
        data = (MIME / name).read_bytes()
        if name.endswith(".msg"):
            messages.append((name, data))
        elif name.endswith(".mbox"):
            chunks = re.split(rb"(?m)^From .*\r?\n", data)
            messages += [(f"{name}#{i}", chunk) for i, chunk in enumerate(chunks) if chunk.strip()]
    return messages


UNLISTED = unlisted_messages()


def test_there_are_unlisted_messages_to_check() -> None:
    assert len(UNLISTED) >= 5


@pytest.mark.parametrize(("name", "raw"), UNLISTED, ids=[name for name, _ in UNLISTED])
def test_unlisted_message_gives_an_item_or_a_reasoned_rejection(name: str, raw: bytes) -> None:
    parsed = parse_message(raw)
    if name.endswith(".msg"):  # an OLE container, not MIME
        assert parsed.rejected == "no header fields: not an email message"
    elif parsed.rejected is None:
        assert parsed.subject.strip() or parsed.text.strip() or parsed.attachments
    else:
        # Splitting on "From " lines also cuts bodies that quote "From Russia with love".
        assert parsed.rejected and not raw.lstrip(b"\xef\xbb\xbf").startswith(b"From:")


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_message_gives_an_item_or_a_reasoned_rejection(row: dict[str, str]) -> None:
    raw, parsed = parse(row)
    assert parsed.size == len(raw)
    expected_rejection = KNOWN_REJECTIONS.get(row["file"])
    if expected_rejection is not None:
        assert parsed.rejected is not None and expected_rejection in parsed.rejected
        return
    assert parsed.rejected is None
    assert parsed.subject.strip() or parsed.text.strip() or parsed.attachments
    strings = [parsed.subject, parsed.text, *parsed.headers.values()]
    strings += [a.name for a in (parsed.sender, *parsed.to, *parsed.cc) if a is not None]
    strings += [a.filename or "" for a in parsed.attachments]
    assert not any(UNSAFE.search(value) for value in strings), "control or surrogate characters"
    assert parsed.date is None or parsed.date.tzinfo is not None
    for header, addresses in parsed.recipients_headers.items():
        assert all(address == address.lower() for address in addresses), header


@pytest.mark.parametrize("row", [r for r in ROWS if r["html_only"] == "True"], ids=row_id)
def test_html_only_mail_comes_out_as_text(row: dict[str, str]) -> None:
    _, parsed = parse(row)
    assert parsed.body_source in ("text/html", "none")
    assert not HTML_MARKUP.search(parsed.text)


@pytest.mark.parametrize(
    "row", [r for r in ROWS if r["auto_submitted"] or r["report"] == "True"], ids=row_id
)
def test_auto_submitted_mail_and_reports_are_not_ordinary(row: dict[str, str]) -> None:
    _, parsed = parse(row)
    assert parsed.kind != "ordinary"
    assert parsed.kind_reason


def holds_arabic_script(row: dict[str, str]) -> bool:
    """Declared in an Arabic charset, or Arabic-script words in the raw bytes as UTF-8."""
    declared = {*row["charsets"].split("|"), *row["header_charsets"].split("|")}
    if declared & {"windows-1256", "iso-8859-6", "cp1256"}:
        return True
    raw = (MIME / row["file"]).read_bytes()
    return bool(ARABIC_RUN.search(raw.decode("utf-8", errors="ignore")))


ARABIC_ROWS = [row for row in ROWS if holds_arabic_script(row)]


def test_the_corpus_has_arabic_script_mail_to_check() -> None:
    assert ARABIC_ROWS


@pytest.mark.parametrize("row", ARABIC_ROWS, ids=row_id)
def test_arabic_script_survives(row: dict[str, str]) -> None:
    _, parsed = parse(row)
    readable = parsed.subject + parsed.text
    assert len(ARABIC_LETTER.findall(readable)) >= 5
    assert "\ufffd" not in readable


def well_formed(row: dict[str, str]) -> bool:
    """No defect in the index, and no U+FFFD in the message itself to begin with."""
    if row["defects"] != "0" or row["file"] in KNOWN_REJECTIONS:
        return False
    return "\ufffd".encode() not in (MIME / row["file"]).read_bytes()


@pytest.mark.parametrize("row", [r for r in ROWS if well_formed(r)], ids=row_id)
def test_well_formed_mail_decodes_without_replacement_characters(row: dict[str, str]) -> None:
    _, parsed = parse(row)
    assert "\ufffd" not in parsed.subject + parsed.text
