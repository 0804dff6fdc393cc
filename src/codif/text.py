"""Text cleaning and side-field tokens, in the spirit of Insee's production fastText model.

Source: ``codif-ape-train@c01f07f:src/fasttext_classifier/fasttext_preprocessor.py::clean_lib`` (see
CODIF-APE-REFERENCE.md §2.1-2.2). Steps, in order: accents stripped and lower-cased; meaningless phrases and
administrative words (``idem``, ``kbis``, ``code ape``...) removed; ``e-commerce`` -> ``ecommerce``; punctuation and
digits -> spaces; one-letter words dropped; repeated words dropped (first occurrence kept); French stop words
removed (the ``stop-words`` package list, installed from PyPI, instead of NLTK's downloadable corpus); every word
stemmed with the Snowball French stemmer. Side fields are appended as tokens ``TYP_C NAT_10 SRF_1 EVT_01P
CJ_5710`` (upper case, so that they never collide with the lower-case words of the text).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

import snowballstemmer
from stop_words import get_stop_words

from codif.forms import Form

# Business team's "libellés vides de sens" and the administrative words Insee strips (abridged, same intent).
_EMPTY_PHRASES: Final = re.compile(
    r"\b(?:idem(?: cadre precedent| case)?|voir ci dessous|voir ci dessus|ci dessus|ci dessous|"
    r"conforme au kbis|conforme aux statuts|sans changement|activite inchangee|pas d objet|non renseignee?|"
    r"a definir|a preciser|undefined|inconnue?|neant|vide)\b"
)
_ADMIN_WORDS: Final = re.compile(
    r"\b(?:code|cadre|ape[a-z]?|naf|inchangee?s?|inchnagee|kbis|k bis|np|nc|xx+|aa+|mo|iem|voir|annexe)\b"
)
_E_PREFIX: Final = re.compile(r"\be[- ](?=[a-z])")
_NON_WORD: Final = re.compile(r"[^a-z\s]")
_SPACES: Final = re.compile(r"\s+")
_COMBINING: Final = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
"""the Unicode blocks of combining marks (what ``unicodedata.combining`` flags in Latin text), removed in one pass"""
_LIGATURES: Final = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "\u2019": "'", "\u2018": "'"}  # curly quotes -> '
)


_LIGATURE_CHARS: Final = re.compile("[" + "".join(map(chr, _LIGATURES)) + "]")


def strip_accents(text: str) -> str:
    """Lower-cased ASCII transliteration of ``text`` (``'Œuvre Éclairée'`` -> ``'oeuvre eclairee'``)."""
    if text.isascii():  # nothing to transliterate (a third of real forms): the slow steps are skipped
        return text.lower()
    if _LIGATURE_CHARS.search(text):  # translate() looks every character up in a dict: only when needed
        text = text.translate(_LIGATURES)
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).lower()


# Words of the package list that carry activity meaning here ("sans alcool", "hors domicile", "pièces", "voie").
_CONTENT_WORDS: Final = frozenset(
    [
        "sans",
        "hors",
        "sauf",
        "personne",
        "personnes",
        "piece",
        "nom",
        "valeur",
        "voie",
        "mine",
        "force",
        "sujet",
        "parole",
        "mot",
        "essai",
        "etat",
        "nouveau",
        "nouveaux",
        "plein",
        "haut",
        "grande",
        "droite",
        "dos",
        "bon",
        "passe",
        "point",
        "juste",
        "debut",
    ]
)
_EXTRA_STOP_WORDS: Final = frozenset(["etc", "tel", "telle", "tels", "telles", "ainsi", "notamment"])


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """French stop words, accents stripped, plus the 26 single letters (as Insee adds ``ascii_lowercase``)."""
    words = {strip_accents(word).strip("'.") for word in get_stop_words("french")}
    words |= set("abcdefghijklmnopqrstuvwxyz") | _EXTRA_STOP_WORDS
    return frozenset(w for w in words - _CONTENT_WORDS if w)


_STEMMER = snowballstemmer.stemmer("french")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball French stem of one accent-stripped lower-case word."""
    return str(_STEMMER.stemWord(word))


def words(text: str) -> list[str]:
    """The cleaned words of ``text`` before stop-word removal and stemming (steps 1-8 of Insee's recipe)."""
    lowered = strip_accents(text)
    lowered = _NON_WORD.sub(" ", _E_PREFIX.sub("e", lowered.replace("'", " ")))
    lowered = _ADMIN_WORDS.sub(" ", _EMPTY_PHRASES.sub(" ", lowered))
    seen: dict[str, None] = {}
    for word in _SPACES.split(lowered):
        if len(word) > 1:
            seen.setdefault(word, None)
    return list(seen)


def clean_text(text: str) -> str:
    """Insee-style cleaned and stemmed text: ``'3 D: La Dératisation'`` -> ``'deratis'``; may be empty."""
    stops = stop_words()
    stems: dict[str, None] = {}
    for word in words(text):
        if word not in stops:
            stems.setdefault(stem(word), None)
    return " ".join(stems)


def group_key(text: str) -> str:
    """Key under which near-duplicate descriptions fall together (sorted distinct stems), for splits."""
    return " ".join(sorted(set(clean_text(text).split()))) or strip_accents(text).strip()


_TYPES: Final = frozenset("ABCDEGILMNPRSXYZ")
_EVENT: Final = re.compile(r"\d{2}[APMF]")
_SURFACE_BINS: Final = (120.0, 400.0, 2500.0)
"""Insee's surface classes: < 120 m² -> 1, 120-399 -> 2, 400-2499 -> 3, >= 2500 -> 4 (``reclassify_surface``)."""


def _blank(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.lower() in {"nan", "none", "null", "na", "<na>"}:
        return None
    return text


def normalize_type_form(value: object) -> str | None:
    """Liasse type, one of Insee's 16 letters (``'c'`` -> ``'C'``); None when missing or unknown."""
    text = _blank(value)
    return text.upper() if text and text.upper() in _TYPES else None


def normalize_nature(value: object) -> str | None:
    """Activity nature, 2 digits (``'4'`` -> ``'04'``, ``'10.0'`` -> ``'10'``); None when missing or malformed."""
    text = _blank(value)
    if text is None:
        return None
    text = text.removesuffix(".0")
    return text.zfill(2) if text.isdigit() and len(text) <= 2 else None


def normalize_surface(value: object) -> str | None:
    """Surface class ``'1'``-``'4'``: a class as it is, a number of m² (``'30.0'``) binned as Insee does.

    A bare integer 1-4 is read as a class (Insee's API contract); anything else numeric as m².
    """
    text = _blank(value)
    if text is None:
        return None
    if text in {"1", "2", "3", "4"}:
        return text
    try:
        area = float(text)
    except ValueError:
        return None
    if area < 0 or math.isnan(area):
        return None
    return str(1 + sum(area >= edge for edge in _SURFACE_BINS))


def normalize_event(value: object) -> str | None:
    """Event code, 2 digits and P/M/F/A (``'01p'`` -> ``'01P'``); None when missing or malformed."""
    text = _blank(value)
    return text.upper() if text and _EVENT.fullmatch(text.upper()) else None


def normalize_cj(value: object) -> str | None:
    """Legal category, 4 digits (``'5710.0'`` -> ``'5710'``); None when missing or malformed."""
    text = _blank(value)
    if text is None:
        return None
    text = text.removesuffix(".0")
    return text if text.isdigit() and len(text) == 4 else None


def side_tokens(form: Form) -> list[str]:
    """The side fields of ``form`` as tokens, known fields only: ``['TYP_C', 'NAT_10', 'SRF_1', ...]``."""
    fields = (
        ("TYP", normalize_type_form(form.type_form)),
        ("NAT", normalize_nature(form.nature)),
        ("SRF", normalize_surface(form.surface)),
        ("EVT", normalize_event(form.event)),
        ("CJ", normalize_cj(form.cj)),
    )
    tokens = [f"{name}_{value}" for name, value in fields if value is not None]
    cj = normalize_cj(form.cj)
    if cj is not None:
        tokens.append(f"CJ1_{cj[0]}")  # the legal family (1 = natural person, 5 = company...) generalises better
    return tokens


def form_text(form: Form, vocabulary: Iterable[str] | None = None) -> str:
    """Cleaned description followed by the side-field tokens (restricted to ``vocabulary`` when given)."""
    tokens = side_tokens(form)
    if vocabulary is not None:
        known = vocabulary if isinstance(vocabulary, set | frozenset) else set(vocabulary)
        tokens = [token for token in tokens if token in known]
    cleaned = clean_text(form.description)
    return " ".join([cleaned, *tokens]) if tokens else cleaned
