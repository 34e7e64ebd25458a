"""A tenant's triage rules matched against items, with plain values: keywords in both languages,
regexes, senders, numbers, and which rule decides each action."""

from __future__ import annotations

import pytest

from triage.classify.rules import RuleOutcome, TenantRule, apply_rules
from triage.models import Priority

INVOICES = TenantRule(
    name="invoices to accounting", keywords=("invoice", "فاکتور"), category="accounting"
)


def test_an_english_keyword_matches_as_a_whole_word_in_any_case() -> None:
    outcome = apply_rules([INVOICES], text="Please find the INVOICE attached.", subject="")
    assert outcome == RuleOutcome(
        category="accounting", hits=('rule "invoices to accounting": keyword "invoice"',)
    )
    # Part of a longer word is not the keyword.
    assert apply_rules([INVOICES], text="We invoiced you last week.", subject="") == RuleOutcome()


@pytest.mark.parametrize(
    "text",
    [
        "لطفا فاکتور رو بفرستید",  # as the keyword is written
        "لطفا فاكتور رو بفرستید",  # Arabic kaf, as Arabic keyboards type it
        "فاکتورِ ماه قبل",  # with a kasra (ezafe) on it
        "شماره فاکتور: ۱۲۳۴",
    ],
)
def test_a_persian_keyword_matches_in_every_spelling(text: str) -> None:
    outcome = apply_rules([INVOICES], text=text, subject="")
    assert outcome.category == "accounting"
    assert outcome.hits == ('rule "invoices to accounting": keyword "فاکتور"',)


def test_persian_keywords_match_across_arabic_ye_kaf_and_the_half_space() -> None:
    rule = TenantRule(name="نوبت", keywords=("می‌خواهم نوبت", "کنسل"), skill="scheduling")
    for text in (
        "سلام، می‌خواهم نوبت بگیرم",  # with the ZWNJ, as the keyword
        "سلام ميخواهم نوبت بگيرم",  # no ZWNJ, Arabic ye
        "نوبتم رو كنسل کنید",  # Arabic kaf in the second keyword
    ):
        assert apply_rules([rule], text=text, subject="").skill == "scheduling", text
    # «نوبتم» is not «نوبت»: whole words only.
    assert apply_rules([rule], text="نوبتم را عوض کنید", subject="") == RuleOutcome()


def test_a_keyword_in_the_subject_counts() -> None:
    outcome = apply_rules([INVOICES], text="see attached", subject="Invoice 2291")
    assert outcome.category == "accounting"


def test_the_longest_keyword_is_named_as_the_reason() -> None:
    # Both start at the same word: the longer one is the more specific reason.
    rule = TenantRule(name="billing", keywords=("invoice", "invoice copy"), priority=Priority.HIGH)
    outcome = apply_rules([rule], text="Send me an INVOICE   copy please", subject="")
    assert outcome.hits == ('rule "billing": keyword "invoice copy"',)
    assert outcome.priority is Priority.HIGH


def test_a_regex_matches_the_text_as_written_and_names_what_it_matched() -> None:
    rule = TenantRule(name="orders", regex=r"(?i)\border\s*#?\d{4,}", category="sales")
    outcome = apply_rules([rule], text="Where is ORDER #48213?", subject="")
    assert outcome.hits == ('rule "orders": regex matched "ORDER #48213"',)
    assert apply_rules([rule], text="order #12", subject="") == RuleOutcome()


def test_a_persian_regex_matches_text_typed_with_arabic_letters() -> None:
    rule = TenantRule(name="کد رهگیری", regex=r"کد رهگیری\s*\d+", category="support")
    outcome = apply_rules([rule], text="كد رهگيري ۴۵۶۷۸ رو دارم", subject="")
    assert outcome.category == "support"
    assert outcome.hits == ('rule "کد رهگیری": regex matched "کد رهگیری 45678"',)


def test_sender_rules_match_the_address_case_blind_also_in_a_from_header() -> None:
    rule = TenantRule(name="lab", senders=("results@lab.example",), category="documents")
    for sender in (
        "results@lab.example",
        "Results@LAB.example",
        "Tehran Lab <RESULTS@lab.example>",
    ):
        outcome = apply_rules([rule], text="Your results", subject="", sender=sender)
        assert outcome.hits == ('rule "lab": sender "results@lab.example"',), sender
    assert apply_rules([rule], text="x", subject="", sender="other@lab.example") == RuleOutcome()
    assert apply_rules([rule], text="x", subject="") == RuleOutcome()


def test_number_rules_match_the_caller() -> None:
    rule = TenantRule(name="counsel", numbers=("+12125550177",), priority=Priority.HIGH)
    outcome = apply_rules([rule], text="call me back", subject="", sender="+12125550177")
    assert outcome == RuleOutcome(
        priority=Priority.HIGH, hits=('rule "counsel": number "+12125550177"',)
    )
    assert apply_rules([rule], text="call me", subject="", sender="+12125550178") == RuleOutcome()


def test_conditions_of_one_rule_must_all_match() -> None:
    rule = TenantRule(
        name="supplier invoices",
        keywords=("invoice",),
        senders=("billing@supplier.example",),
        secretary="emily",
    )
    both = apply_rules(
        [rule], text="invoice attached", subject="", sender="billing@supplier.example"
    )
    assert both.secretary == "emily"
    assert both.hits == (
        'rule "supplier invoices": keyword "invoice", sender "billing@supplier.example"',
    )
    assert apply_rules([rule], text="invoice attached", subject="", sender="a@b.example") == (
        RuleOutcome()
    )
    assert (
        apply_rules([rule], text="hello", subject="", sender="billing@supplier.example")
        == RuleOutcome()
    )


URGENT = TenantRule(name="pain", keywords=("درد شدید", "emergency"), priority=Priority.URGENT)
URGENT_GO_ON = TenantRule(
    name="pain", keywords=("درد شدید", "emergency"), priority=Priority.URGENT, stop=False
)
BILLING = TenantRule(
    name="billing", keywords=("invoice", "بیمه"), category="accounting", secretary="reza"
)
ANY_INVOICE_LOW = TenantRule(
    name="low invoices", keywords=("invoice",), priority=Priority.LOW, category="documents"
)


def test_a_matching_rule_stops_the_search_by_default() -> None:
    outcome = apply_rules([URGENT, BILLING], text="emergency with my invoice", subject="")
    assert outcome == RuleOutcome(
        priority=Priority.URGENT, hits=('rule "pain": keyword "emergency"',)
    )


def test_stop_false_lets_later_rules_add_actions_not_yet_set() -> None:
    outcome = apply_rules(
        [URGENT_GO_ON, BILLING, ANY_INVOICE_LOW],
        text="درد شدید دارم، بیمه هم دارم. invoice",
        subject="",
    )
    # Priority from the first rule; category and secretary from the second, which stops, so
    # the third (which would set priority low and category documents) is never tried.
    assert outcome == RuleOutcome(
        category="accounting",
        priority=Priority.URGENT,
        secretary="reza",
        hits=('rule "pain": keyword "درد شدید"', 'rule "billing": keyword "بیمه"'),
    )


def test_an_earlier_action_is_never_overridden_and_a_rule_adding_nothing_is_no_reason() -> None:
    first = TenantRule(name="first", keywords=("invoice",), category="accounting", stop=False)
    second = TenantRule(name="second", keywords=("invoice",), category="sales", stop=False)
    third = TenantRule(name="third", keywords=("invoice",), skill="accounting")
    outcome = apply_rules([first, second, third], text="invoice", subject="")
    assert outcome.category == "accounting" and outcome.skill == "accounting"
    assert outcome.hits == ('rule "first": keyword "invoice"', 'rule "third": keyword "invoice"')


def test_rules_that_do_not_match_are_passed_over_in_order() -> None:
    outcome = apply_rules([URGENT, BILLING], text="my insurance (بیمه) question", subject="")
    assert outcome.category == "accounting" and outcome.priority is None
    assert outcome.matched
    assert not apply_rules([URGENT, BILLING], text="hello", subject="").matched
    assert apply_rules([], text="emergency", subject="") == RuleOutcome()


def test_rules_compare_by_their_fields_and_compile_their_patterns_once() -> None:
    again = TenantRule(
        name="invoices to accounting", keywords=("invoice", "فاکتور"), category="accounting"
    )
    assert again == INVOICES and hash(again) == hash(INVOICES)
    assert again != TenantRule(
        name="invoices to accounting", keywords=("invoice",), category="accounting"
    )
    compiled = INVOICES._keyword_re
    apply_rules([INVOICES], text="invoice", subject="")
    assert INVOICES._keyword_re is compiled is not None
