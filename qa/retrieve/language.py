"""Which language a question is in, and whether it is confidently not the model's language.

The embedding model reads one language (English for all-MiniLM-L6-v2): a question in another
language still gets nearest passages, but they are picked by character overlap, not meaning,
and can come with a confidence as high as a real answer's. Such a question abstains.

The detector is py3langid (naive Bayes over byte n-grams; 140 languages; its model ships in the
wheel, nothing is downloaded). Its probabilities are calibrated for text length, so names and
keywords get low confidence in every language. A question is called foreign only when all hold:
- the detector's best language is not the model's, and gives the model's language < 0.3%
  (English questions that pass the other two tests get 3% or more; foreign ones 0.07% or less);
- it is written mostly outside the Latin script, or it has at least MIN_WORDS words and the
  detector gives its best language at least MIN_CONFIDENCE. Short Latin-script queries
  ("Bayraktar TB2", "Lachin corridor", "ceasefire") are never called foreign: names are
  spelled alike in many languages.
On the 10,647 English questions of SQuAD dev, the seed set and eval/off_topic.txt, and on the
capitalised names of the default corpus, none is called foreign (see docs/evaluation.md).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

log = logging.getLogger(__name__)

MAX_MODEL_PROBABILITY = 0.003  # foreign only when the model's language is less likely than this
MIN_CONFIDENCE = 0.5  # ... and, for Latin-script text, the best language at least this likely
MIN_WORDS = 3  # ... and it has this many words (of two letters or more)
WORDS = re.compile(r"[^\W\d_]{2,}")
NAMES = {
    "en": "English",
    "ru": "Russian",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "tr": "Turkish",
    "az": "Azerbaijani",
    "hy": "Armenian",
    "ka": "Georgian",
    "uk": "Ukrainian",
    "fa": "Persian",
    "ar": "Arabic",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
}
_loading = threading.Lock()


@dataclass(frozen=True)
class Detection:
    language: str  # ISO 639-1 code of the likeliest language; "" when it is another language the
    # detector is unsure of (under MIN_CONFIDENCE, not foreign), or one without such a code
    confidence: float  # the detector's probability of its likeliest language
    foreign: bool  # confidently not the model's language: the question abstains


def detect(text: str, model_language: str) -> Detection:
    """The language of `text`, and whether it is confidently not `model_language` (ISO 639-1)."""
    ranked = _identifier().rank(text)
    best, confidence = ranked[0]
    model_probability = dict(ranked).get(model_language)
    if model_probability is None:
        raise ConfigError(f"model_language {model_language!r} is not a language the detector knows (ISO 639-1)")
    foreign = (
        best != model_language
        and model_probability < MAX_MODEL_PROBABILITY
        and (not mostly_latin(text) or (confidence >= MIN_CONFIDENCE and len(WORDS.findall(text)) >= MIN_WORDS))
    )
    shown = foreign or best == model_language or confidence >= MIN_CONFIDENCE
    return Detection(best if shown and len(best) == 2 else "", float(confidence), foreign)


def mostly_latin(text: str) -> bool:
    """True when at least half the letters are Latin (or there are none)."""
    letters = [c for c in text if c.isalpha()]
    latin = sum("LATIN" in unicodedata.name(c, "") for c in letters)
    return latin * 2 >= len(letters)


def name(code: str) -> str:
    return NAMES.get(code, f"“{code}”") if code else "another language"


def explain(detection: Detection, model_language: str) -> str:
    """Why a foreign question abstains, in a sentence for people."""
    return (
        f"The question seems to be in {name(detection.language)}, but the model understands "
        f"{name(model_language)} only, so the nearest passages were not matched by meaning. "
        f"Ask in {name(model_language)}."
    )


def preload() -> None:
    """Start loading the detector in the background (0.4-0.5 s: its model is LZMA-compressed),
    so that a server's first question does not wait for it."""
    threading.Thread(target=_identifier, name="qa-language", daemon=True).start()


def _identifier() -> LanguageIdentifier:
    with _loading:  # one load, however many threads ask at once
        return _load()


@functools.cache
def _load() -> LanguageIdentifier:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    log.info("loading the language detector")
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
