"""Spam: marketing mail, robocalls and hang-ups, SMS spam; and the legitimate look-alikes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from triage.classify.spam import SPAM_THRESHOLD, SpamDecision, assess_spam
from triage.mail import MailKind
from triage.models import Channel

NEWSLETTER_HEADERS = {
    "list-unsubscribe": "<mailto:unsub@news.shop.example>, <https://shop.example/u/8f2a>",
    "list-unsubscribe-post": "List-Unsubscribe=One-Click",
}


@dataclass(frozen=True)
class Case:
    """One item as the pipeline hands it over, and the reasons that must be given."""

    name: str
    channel: Channel
    text: str
    reasons: tuple[str, ...]
    subject: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    mail_kind: MailKind | None = None
    recording_seconds: int | None = None
    transcript: str | None = None
    sender: str = ""

    def assess(self) -> SpamDecision:
        return assess_spam(
            channel=self.channel,
            text=self.text,
            subject=self.subject,
            headers=self.headers,
            mail_kind=self.mail_kind,
            recording_seconds=self.recording_seconds,
            transcript=self.transcript,
            sender=self.sender,
        )


def call(name: str, transcript: str, seconds: int, reasons: tuple[str, ...]) -> Case:
    # The pipeline passes a voicemail's transcript both as the text and as the transcript.
    return Case(name, Channel.CALL, transcript, reasons, recording_seconds=seconds,
                transcript=transcript)  # fmt: skip


SPAM = [
    Case(
        "en newsletter",
        Channel.EMAIL,
        "BLACK FRIDAY IS HERE\nUp to 60% off sitewide + free shipping on orders over $50.\n"
        "Shop now >\nYou received this email because you signed up at shop.example. "
        "Unsubscribe | Manage preferences",
        ('mail kind bulk', "List-Unsubscribe header", 'promotional "unsubscribe"',
         'promotional "up to 60%"', 'promotional "black friday"', 'promotional "free shipping"',
         'promotional "shop now"'),
        subject="🔥 Black Friday: up to 60% off everything",
        headers=NEWSLETTER_HEADERS,
        mail_kind=MailKind.BULK,
    ),
    Case(
        "fa newsletter, Precedence bulk, no mail kind",
        Channel.EMAIL,
        "مشتری گرامی، جشنواره پاییزه دیجی‌استایل شروع شد!\n"
        "۳۰٪ تخفیف روی تمام محصولات تا پایان هفته.\n"
        "برای لغو عضویت در خبرنامه اینجا کلیک کنید.",
        ("Precedence: bulk", 'promotional "30% تخفیف"', 'promotional "لغو عضویت"'),
        headers={"precedence": "bulk"},
    ),
    Case(
        "list mail with one promotional cue is enough",
        Channel.EMAIL,
        "This week only: members get a discount on the annual conference.",
        ("mail kind list", "List-Id header", 'promotional "discount"'),
        headers={"list-id": "<members.chamber.example>"},
        mail_kind=MailKind.LIST,
    ),
    Case(
        "marketing forwarded without its headers",
        Channel.EMAIL,
        "Exclusive offer for you! Use promo code FALL25 for 25% off. Limited time only - "
        "buy now.",
        ('promotional "25% off"', 'promotional "limited time only"',
         'promotional "exclusive offer"', 'promotional "promo code"', 'promotional "buy now"'),
    ),
    call("en robocall", "Hello, this is an automated message regarding your car's extended "
         "warranty. Press 1 now to speak with a specialist.", 24,
         ('robocall "press 1"', 'robocall "extended warranty"',
          'robocall "this is an automated message"')),
    call("en prerecorded scam", "um this is a prerecorded call, this is your final notice, "
         "press nine to be removed", 17,
         ('robocall "press nine"', 'robocall "this is a prerecorded call"',
          'robocall "final notice"')),
    call("fa robocall", "این یک پیام خودکار است. برای شرکت در قرعه‌کشی عدد ۱ را فشار دهید.", 11,
         ('prize or scheme "قرعهکشی"', 'robocall "عدد 1 را فشار"',
          'robocall "پیام خودکار"')),
    call("hang-up at the beep", "", 1, ("empty voicemail (1 s, no words)",)),
    call("hang-up with a noise tag", "[silence]", 0, ("empty voicemail (0 s, no words)",)),
    Case("hang-up, transcript not given", Channel.CALL, "", ("empty voicemail (1 s, no words)",),
         recording_seconds=1),
    Case(
        "en prize sms",
        Channel.SMS,
        "Congratulations! You've won a $1,000 Walmart gift card. Claim your prize now: "
        "bit.ly/3xQz9Lk",
        ('prize or scheme "you\'ve won"', 'prize or scheme "claim your prize"',
         'prize or scheme "gift card"', 'short link "bit.ly/3xqz9lk"'),
        sender="+18885550123",
    ),
    Case(
        "fa prize sms",
        Channel.SMS,
        "تبریک! شما برنده ۱۰ میلیون تومان جایزه نقدی شدید. برای دریافت روی لینک بزنید yun.ir/k8s2",
        ('prize or scheme "برنده 10 میلیون تومان جایزه نقدی شدید"', 'short link "yun.ir/k8s2"'),
        sender="+989121234567",
    ),
    Case(
        "fa ad sms from a panel line",
        Channel.SMS,
        "فروش ویژه یلدا در فروشگاه نیلا! کد تخفیف: YALDA50\nلغو۱۱",
        ("bulk SMS line sender", 'promotional "کد تخفیف"', 'promotional "فروش ویژه"',
         'opt-out "لغو11"'),
        sender="+9830001234567",
    ),
    Case(
        "en ad sms from a short code",
        Channel.SMS,
        "PIZZA PALACE: 2 large pizzas for $15 tonight only! Order now. Reply STOP to opt out",
        ("short-code sender", 'promotional "opt out"', 'promotional "order now"',
         'opt-out "reply stop"'),
        sender="72345",
    ),
    Case(
        "fa crypto scheme",
        Channel.SMS,
        "با سرمایه‌گذاری در ارز دیجیتال ماهانه ۵۰ میلیون سود تضمینی بگیرید",
        ('prize or scheme "ارز دیجیتال"', 'prize or scheme "سود تضمینی"'),
    ),
    Case(
        "en crypto scheme",
        Channel.SMS,
        "Earn guaranteed returns of 300% with our Bitcoin trading bot. Join now!",
        ('promotional "join now"', 'prize or scheme "bitcoin"',
         'prize or scheme "guaranteed returns"'),
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", SPAM, ids=lambda case: case.name)
def test_spam_is_found_with_every_cue(case: Case) -> None:
    decision = case.assess()
    assert decision.spam
    assert decision.score >= SPAM_THRESHOLD
    assert sorted(decision.reasons) == sorted(case.reasons)


NOT_SPAM = [
    Case("en customer asks about a discount", Channel.EMAIL,
         "Hi Sara, could you ask the hotel whether they give a corporate discount for our team "
         "of twelve? We'd arrive on the 14th. Thanks, David",
         ('promotional "discount"',)),
    Case("fa customer asks about a discount", Channel.SMS,
         "سلام، برای خرید عمده تخفیف می‌دید؟ ممنون میشم قیمت رو بفرستید",
         ('promotional "تخفیف"',)),
    Case("customer's discount code failed", Channel.EMAIL,
         "The discount code you sent me last week didn't work at checkout, can you check?",
         ('promotional "discount code"',)),
    Case("customer wants off a newsletter", Channel.EMAIL,
         "Please unsubscribe me from Dr. Amini's clinic newsletter, I moved abroad.",
         ('promotional "unsubscribe"',)),
    Case("list mail without promotion", Channel.EMAIL,
         "Minutes of the November board meeting are attached. Next meeting: 4 December.",
         ("mail kind list", "List-Id header"),
         headers={"list-id": "<board.acme.example>"}, mail_kind=MailKind.LIST),
    Case("tenant's own list, ruled ordinary by the mail rules", Channel.EMAIL,
         "Our 20% off promo code for clients is CLIENT20, please pass it on.",
         ('promotional "20% off"', 'promotional "promo code"'),
         headers={"list-id": "<clients.acme.example>", "precedence": "list"},
         mail_kind=MailKind.ORDINARY),
    Case("out-of-office reply with bulk-looking precedence", Channel.EMAIL,
         "I am out of the office until Monday.", (), headers={"precedence": "bulk"},
         mail_kind=MailKind.AUTO_REPLY),
    call("mechanic mentions the warranty", "Hi, it's Joe from Main Street Auto, your car's "
         "extended warranty paperwork is ready, come by whenever.", 14,
         ('robocall "extended warranty"',)),
    call("caller explains the phone menu", "Hi it's Reza, when you call the office press 2 for "
         "me, not reception. Talk soon.", 9, ('robocall "press 2"',)),
    call("fa caller mentions a prize", "سلام خانم احمدی، پسرم توی مسابقه جایزه اول رو برد، "
         "جلسه فردا رو یه ساعت عقب بندازید", 12, ('prize or scheme "جایزه"',)),
    call("short voicemail with words", "call me back", 1, ()),
    call("long silent voicemail", "", 40, ()),
    Case("call not yet recorded", Channel.CALL, "", ()),
    Case("en client won a case", Channel.SMS, "We won the case!! Thanks for all the help", ()),
    Case("customer sends a short link", Channel.SMS,
         "Here's the listing I told you about: bit.ly/3kP2Zz", ('short link "bit.ly/3kp2zz"',)),
    Case("cue letters inside other words", Channel.EMAIL,
         "The cryptography seminar moved to room 5; the menu is at https://kamat.co/menu", ()),
    Case("bank code from a panel line", Channel.SMS, "کد تایید شما: ۴۸۲۱۹۳ بانک ملت",
         ("bulk SMS line sender",), sender="+9850001234"),
    Case("ride code from a short code", Channel.SMS, "Your Uber code is 4821.",
         ("short-code sender",), sender="827222"),
    Case("short code is not a reason outside SMS", Channel.EMAIL, "Invoice 4821 attached.", (),
         sender="72345"),
    Case("fa client asks about a housing lottery", Channel.SMS,
         "لطفا نتیجه قرعه‌کشی مسکن رو پیگیری کنید", ('prize or scheme "قرعهکشی"',)),
]  # fmt: skip


@pytest.mark.parametrize("case", NOT_SPAM, ids=lambda case: case.name)
def test_legitimate_look_alikes_are_not_spam(case: Case) -> None:
    decision = case.assess()
    assert not decision.spam
    assert decision.score < SPAM_THRESHOLD
    assert sorted(decision.reasons) == sorted(case.reasons)


def test_one_promotional_word_is_below_the_threshold_and_two_more_reach_it() -> None:
    one = assess_spam(channel=Channel.EMAIL, text="Is there a discount for students?")
    assert one == SpamDecision(False, 0.4, ('promotional "discount"',))
    three = assess_spam(
        channel=Channel.EMAIL, text="Discount for students! Free shipping. Shop now."
    )
    assert three.spam and three.score == pytest.approx(1.2)


def test_bulk_headers_need_promotional_content() -> None:
    plain = assess_spam(
        channel=Channel.EMAIL, text="Your statement is ready.", headers=NEWSLETTER_HEADERS
    )
    assert plain == SpamDecision(False, 0.6, ("List-Unsubscribe header",))
    promo = assess_spam(
        channel=Channel.EMAIL,
        text="Your statement is ready.",
        subject="Special offer inside",
        headers=NEWSLETTER_HEADERS,
    )
    assert promo.spam
    assert promo.reasons == ("List-Unsubscribe header", 'promotional "special offer"')


def test_a_cue_repeated_or_also_in_the_transcript_counts_once() -> None:
    text = "press 1, press 1, press 1 now"
    decision = assess_spam(channel=Channel.CALL, text=text, transcript=text, recording_seconds=9)
    assert decision == SpamDecision(False, 0.6, ('robocall "press 1"',))


def test_cue_inside_a_longer_cue_is_not_counted_twice() -> None:
    decision = assess_spam(channel=Channel.SMS, text="کد تخفیف شما کار نکرد")
    assert decision == SpamDecision(False, 0.4, ('promotional "کد تخفیف"',))


def test_persian_written_with_arabic_letters_and_zwnj_variants_match() -> None:
    arabic = assess_spam(channel=Channel.SMS, text="تخفيف ويژه! كد تخفيف: A1 لغو ۱۱")
    assert arabic.spam
    assert 'promotional "کد تخفیف"' in arabic.reasons
    assert 'opt-out "لغو 11"' in arabic.reasons
