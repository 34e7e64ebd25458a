"""Which language a message is in: Persian, English, Arabic or other, and whether it mixes two.

Cues, not a model: the script of the letters first; in Arabic script, the letters only Persian
uses (پ چ ژ گ, and the Persian code points for ی and ک) against Arabic-only ones (ة, ي, ك, a
word-initial أ or إ) and each language's function words; in Latin script, English stopwords
against Finglish (Persian in Latin letters: "salam", "lotfan", "mikham") and the stopwords and
accented letters of other European languages. Deterministic, no data files, tens of microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from triage.classify.normalize import normalize

Language = Literal["fa", "en", "ar", "other"]

_URL_OR_EMAIL = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")
_LATIN_WORD = re.compile("[a-zA-Z\u00c0-\u024f]{3,}")
_NON_ENGLISH_LATIN = re.compile("[àâãäåæçèêëìîïñòóôõöøùúûüýÿœßğışąćęłńśźżő]")
_ARABIC_INITIAL_HAMZA = re.compile(r"(?<!\w)[أإ]")
_PERSIAN_LETTERS = "پچژگ"
_PERSIAN_CODEPOINTS = "یک"  # U+06CC, U+06A9; Arabic writes U+064A, U+0643
_ARABIC_CODEPOINTS = "يكى"  # U+064A, U+0643, U+0649
_URDU_LETTERS = "ٹڈڑںےۓہ"


def _words(*lines: str) -> frozenset[str]:
    return frozenset(" ".join(lines).split())


# Persian function words and very common words, in the form normalize(..., zwnj="space") gives.
_PERSIAN_WORDS = _words(
    """
    است هست نیست هستم هستید هستیم بود بودم شد شده شود میشه میشود نمیشه را رو با از به برای
    بر تا این اون ان همین همون اینجا انجا که چه چی چرا کی کجا چطور چطوری چند کدوم کدام
    من تو شما ما او اونها انها ایشان ایشون خودم خودش مال هم یا اما ولی اگر اگه پس بعد قبل
    می نمی ها های ای یه یک دو سه چهار پنج شش هفت هشت ده صد هزار
    سلام ممنون مرسی لطفا خواهش میکنم میکنیم بفرمایید خداحافظ خسته نباشید
    دارم داریم دارید داره دارن نداریم ندارم کنم کنید کنیم کرد کردم کردیم کنه بکنید بکنم
    میخوام میخواستم میخواهم میخواهیم خواستم بگیرم بگیرید بگیره بدید بدم بزنید بزنم بفرستید
    بفرستم فرستادم شماره تماس زنگ بگید بگم گفتم گفت امروز فردا دیروز پسفردا الان هنوز
    ساعت صبح ظهر عصر شب هفته ماه سال روز وقت نوبت جلسه دکتر اقای خانم اقا اینکه انکه
    خیلی خوب بد باشه باشد بشه بشود کار چیزی چیز همه هیچ دیگه دیگر بیشتر کمتر فقط حتما
    اره بله نه نخیر باید نباید میتونم میتونید میتوانم میتوانید لطف بنده جان
    """
)
# Arabic function words (normalized: ي→ی, ك→ک, ة→ه, أ/إ→ا). Left out because Persian uses them
# too once normalized: علی (Ali, and على), الی, لیست (list), غیر, قد (height), کیف (bag), کل, جدا.
_ARABIC_WORDS = (
    _words(
        """
    فی عن هذا هذه ذلک تلک التی الذی الذین کان کانت یکون لیس انا نحن انتم
    هل لن ثم لکن لقد ماذا لماذا متی هنا هناک عند مع بعض ایضا حالک کیفک شلونک
    شکرا مرحبا ارید نرید یمکن یجب الیوم غدا انت انتی هو
    """
    )
    - _PERSIAN_WORDS
)
# Persian words that start with «ال» and so are no sign of the Arabic article.
_PERSIAN_AL_WORDS = _words("الان البته الکی الو الگو الهام الماس الکترونیک الی الا")

_ENGLISH_WORDS = _words(
    """
    the a an to and or but of in on at for from with by about as into is are was were be been
    being am do does did have has had will would can could should may might must shall not no
    yes i you he she it we they me him her us them my your his its our their this that these
    those there here what when where who which why how please thanks thank hi hello dear
    call back message appointment meeting tomorrow today tonight morning afternoon evening
    week next last time need want like know get got send sent let just also if so up out
    all any some more than then now very much well okay ok sure regarding re invoice payment
    order help set alarm play tell show check turn what's i'm it's don't can't i'd i'll
    """
)
_FINGLISH_WORDS = _words(
    """
    salam slm mersi merc lotfan ltfn farda emrooz emruz diruz parsal nobat vaght vaqt saat
    mikham mikhastam mikhaim mikhay mikhad mikhan mikhastim khastam khoobi khubi chetori
    chetorin khubin khoobin hast hastam hastin hastid nist nistam mishe mishod nemishe
    mitunam mitoonam mitunid mitoonid mitoonin mitunin bayad nabayad lazem dare daram darim
    darid nadaram nadarim kheili kheyli khyli khob khub khoob mamnun mamnoon mamnon merci
    khahesh khaheshan baraye bara ro ra az ba va ya ke chi chera koja kojast key kei kojai
    shoma man ma to oon un in inja unja alan hanuz hanooz dige digar faghat hatman
    zang bezanid bezan bezanin tamas begirid begirin begir begid bgid bede bedid bedin
    befrestid befrestin ferestadam ferestadid pardakht ghabz faktor hesab pool pul
    sobh zohr asr shab hafte mah sal rooz ruz doktor agha aghaye khanom jan joon azizam
    bashe bashid mikonam mikonim mikonid konid konin kardam kardim kard shod shode boodam
    budam bood bud ham amma vali agar age pas baad ghabl inke chon bebakhshid bebakhshin
    khodafez khodahafez ghorbanet mokhlesim eshkal moshkel kar chizi hich hame
    khoobam khubam khoobe khube khoobid khubid kojaei kojaii kojayi dastet dastetoon dard
    nakone nakonid lotfet lotfetoon mamnunam mamnoonam motshakeram moteshakeram ghorboonet
    fadat chashm bale are na nakheir nemidoonam nemidunam midunam midoonam miam miay miad
    biam biad bia boro beram berim shologh shologhe zood zud sabr konam bokon bokonid begam
    begi harf payam gharardad jalase jalaseh dir
    """
)
# Finglish words that are also ordinary English or European words: counted only beside others.
_FINGLISH_AMBIGUOUS = _words(
    "ro ra az ba va ya ke chi key to man ma in un pas age kar ham bud pool dare merci sal alan",
    "doktor be hast ruz are na bale dir harf bia",
)
_FINGLISH_SURE = _FINGLISH_WORDS - _FINGLISH_AMBIGUOUS
_OTHER_WORDS = (
    _words(
        """
    der die das und ist nicht ich sie wir mit für ein eine einen bitte danke guten morgen
    termin haben habe können kann ihr ihnen auf den dem zu von wie sehr vielen gerne hallo
    el la los las de que y en por para con es una un hola gracias mañana quiero cita está
    usted favor buenos buenas días necesito puede hacer muy pero como yo tengo mi su al del
    le les des et je vous pour avec pas bonjour merci demain nous sur dans qui est une rendez
    voulez pouvez votre notre il elle suis merci beaucoup madame monsieur ce cette
    il lo gli della di che per non sono grazie domani buongiorno vorrei appuntamento
    o os um uma não obrigado obrigada amanhã você meu minha com
    het een ik niet zijn wij dank je jij u van voor morgen hoe
    """
    )
    - _ENGLISH_WORDS
)


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """A detected language, whether a second one is mixed in, the evidence, and why."""

    language: Language
    mixed: bool
    scores: Mapping[str, float]
    reason: str


def _guess(language: Language, mixed: bool, raw: Mapping[str, float], reason: str) -> LanguageGuess:
    total = sum(raw.values()) or 1.0
    scores = {name: round(raw.get(name, 0.0) / total, 3) for name in ("fa", "en", "ar", "other")}
    return LanguageGuess(language, mixed, MappingProxyType(scores), reason)


def _count(text: str, letters: str) -> int:
    return sum(text.count(letter) for letter in letters)


def _is_arabic_script(word: str) -> bool:
    return "\u0600" <= word[0] <= "\u06ff" or "\u0750" <= word[0] <= "\u077f"


@dataclass(slots=True)
class _Evidence:
    fa: float = 0.0
    ar: float = 0.0
    en: float = 0.0
    other: float = 0.0
    finglish: float = 0.0
    english_only: int = 0
    arabic_cues: int = 0  # Arabic words or letter forms, beyond the ي and ك Persian also types
    cues: list[str] | None = None

    def cue(self, name: str) -> None:
        if self.cues is None:
            self.cues = []
        if name not in self.cues:
            self.cues.append(name)


def _weigh_arabic_script(text: str, words: list[str], evidence: _Evidence) -> None:
    """Persian, Arabic and other (Urdu) evidence in Arabic-script words."""
    if persian_codepoints := _count(text, _PERSIAN_CODEPOINTS):
        evidence.fa += 0.5 * persian_codepoints
        evidence.cue("Persian ی and ک")
    if arabic_codepoints := _count(text, _ARABIC_CODEPOINTS):
        evidence.ar += 0.5 * arabic_codepoints
        evidence.cue("Arabic ي and ك")
    if persian_letters := _count(text, _PERSIAN_LETTERS):
        evidence.fa += 2.0 * persian_letters
        evidence.cue("Persian letters")
    arabic_forms = text.count("ة")
    if "أ" in text or "إ" in text:
        arabic_forms += len(_ARABIC_INITIAL_HAMZA.findall(text))
    if arabic_forms:
        evidence.arabic_cues += arabic_forms
        evidence.ar += 1.5 * arabic_forms
        evidence.cue("Arabic letter forms")
    if urdu_letters := _count(text, _URDU_LETTERS):
        evidence.other += 2.0 * urdu_letters
        evidence.cue("Urdu letters")
    persian_words = arabic_words = articles = 0
    for word in words:
        if word in _PERSIAN_WORDS:
            persian_words += 1
        elif word in _ARABIC_WORDS:
            arabic_words += 1
        elif word.startswith("ال") and len(word) > 3 and word not in _PERSIAN_AL_WORDS:
            articles += 1
    if persian_words:
        evidence.fa += 2.0 * persian_words
        evidence.cue("Persian words")
    if arabic_words or articles:
        evidence.arabic_cues += arabic_words + articles
        # «ال» is weak alone: Persian names and loanwords (الهه, الناز) begin with it too.
        evidence.ar += 2.0 * arabic_words + 0.5 * articles
        evidence.cue("Arabic words")


def _weigh_latin(text: str, words: list[str], evidence: _Evidence) -> None:
    """English, Finglish and other-language evidence in Latin-script words."""
    finglish_sure = finglish_weak = 0
    for word in words:
        if word in _ENGLISH_WORDS:
            evidence.en += 1.0
            if word not in _FINGLISH_WORDS and word not in _FINGLISH_AMBIGUOUS:
                evidence.english_only += 1
        if word in _FINGLISH_SURE:
            finglish_sure += 1
        elif word in _FINGLISH_AMBIGUOUS:
            finglish_weak += 1
        if word in _OTHER_WORDS:
            evidence.other += 1.0
    if finglish_sure:
        evidence.finglish = 2.0 * finglish_sure + 0.5 * finglish_weak
        evidence.fa += evidence.finglish
    evidence.other += len(_NON_ENGLISH_LATIN.findall(text.lower()))
    for cue, score in (("English words", evidence.en), ("Finglish words", evidence.finglish)):
        if score:
            evidence.cue(cue)
    if evidence.other:
        evidence.cue("other-language words or letters")


def detect_language(text: str) -> LanguageGuess:
    """The language of `text`: "fa" (Persian, also in Latin letters), "en", "ar" or "other".

    `mixed` is true when a second language has words of its own in the text (Persian with
    English words, or the reverse). Arabic-script text without a distinguishing cue is taken
    as Persian and Latin text without one as English: those are the agency's languages.
    """
    if "@" in text or "://" in text or "www." in text:
        text = _URL_OR_EMAIL.sub(" ", text)
    words = _WORD.findall(normalize(text, zwnj="space"))
    arabic_words = [word for word in words if _is_arabic_script(word)]
    latin_words = [word for word in words if word[0] < "\u0250"]
    if not arabic_words and not latin_words:
        if words:
            return _guess("other", False, {"other": 1.0}, "letters of another script")
        return _guess("other", False, {"other": 1.0}, "no letters")

    evidence = _Evidence()
    if arabic_words:
        _weigh_arabic_script(text, arabic_words, evidence)
    if latin_words:
        _weigh_latin(text, latin_words, evidence)
    fa, ar, en, other = evidence.fa, evidence.ar, evidence.en, evidence.other

    arabic_letters = sum(map(len, arabic_words))
    latin_letters = sum(map(len, latin_words))
    # Latin words that are no one's function words are names («برنامه google chrome»).
    latin_is_names = bool(arabic_words) and not (en or other or evidence.finglish)
    language: Language
    if arabic_letters >= latin_letters or latin_is_names:
        if other > max(fa, ar):
            language = "other"
        elif ar > fa and evidence.arabic_cues:
            language = "ar"
        else:
            language = "fa"
            if fa <= ar:
                fa = ar + 0.5
                evidence.cue("Arabic script without Arabic cues: Persian assumed")
        # A code in capitals is no English («فاکتور INV-2041»); a word is («Instagram رو»).
        mixed = bool(en or evidence.finglish) or any(
            not word.isupper() for word in _LATIN_WORD.findall(text)
        )
    else:
        finglish_wins = evidence.finglish > en and evidence.finglish >= other
        if finglish_wins:
            language = "fa"
            evidence.cues = ["finglish", *(evidence.cues or [])]
        elif other > en:
            language = "other"
        else:
            language = "en"
            if not en:
                en = 0.5
                evidence.cue("Latin script without cues: English assumed")
        mixed = (
            any(len(word) > 1 for word in arabic_words)
            or (finglish_wins and evidence.english_only >= 1)
            or (language == "en" and evidence.finglish >= 2)
        )
    reason = ", ".join(evidence.cues or ["no cue"])
    return _guess(language, mixed, {"fa": fa, "en": en, "ar": ar, "other": other}, reason)
