"""Approximate MongoDB ``$text`` search on one document, for LiveQuery and
the in-memory store: whole-word matching of the search terms, quoted
phrases that must all appear, ``-word`` exclusions, case-insensitive by
default, with a small Porter stemmer and stop-word list for English."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+")
_SEARCH_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
_ENGLISH = frozenset({"en", "english"})
_STOP_WORDS = frozenset(
    {
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
        "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
        "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
        "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
        "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
        "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
        "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she",
        "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves",
        "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until",
        "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
        "why", "will", "with", "you", "your", "yours", "yourself", "yourselves",
    }
)


def _consonants(w: str) -> list[bool]:
    flags: list[bool] = []
    for i, c in enumerate(w):
        flags.append(c not in "aeiou" and (c != "y" or i == 0 or not flags[i - 1]))
    return flags


def _measure(w: str) -> int:
    m, prev_vowel = 0, False
    for cons in _consonants(w):
        if cons and prev_vowel:
            m += 1
        prev_vowel = not cons
    return m


def _has_vowel(w: str) -> bool:
    return not all(_consonants(w))


def _stem(w: str) -> str:
    """Porter steps 1a-1c and 5a: enough that "runs"/"running" meet "run" and
    "foxes" meets "fox", as with MongoDB's English stemming; applied alike to
    query and text, so only consistency matters."""
    if len(w) <= 2 or not (w.isascii() and w.isalpha()):
        return w
    if w.endswith(("sses", "ies")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    if w.endswith("eed"):
        if _measure(w[:-3]) > 0:
            w = w[:-1]
    else:
        for suffix in ("ed", "ing"):
            if w.endswith(suffix) and _has_vowel(w[: -len(suffix)]):
                w = w[: -len(suffix)]
                cons = _consonants(w)
                if w.endswith(("at", "bl", "iz")):
                    w += "e"
                elif len(w) >= 2 and w[-1] == w[-2] and cons[-1] and w[-1] not in "lsz":
                    w = w[:-1]
                elif _measure(w) == 1 and len(w) >= 3 and cons[-3] and not cons[-2] and cons[-1] and w[-1] not in "wxy":
                    w += "e"
                break
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    if w.endswith("e"):  # step 5a, so that "foxes" -> "foxe" -> "fox"
        stem, m = w[:-1], _measure(w[:-1])
        cons = _consonants(stem)
        short = len(stem) >= 3 and cons[-3] and not cons[-2] and cons[-1] and stem[-1] not in "wxy"
        if m > 1 or (m == 1 and not short):
            w = stem
    return w


class TextSearch:
    """A parsed ``$text.$search``: OR of terms, AND of phrases, ``-`` excludes."""

    def __init__(self, term: str, language: str | None, case_sensitive: bool, diacritic_sensitive: bool) -> None:
        self.case_sensitive = case_sensitive
        self.diacritic_sensitive = diacritic_sensitive
        self.english = (language or "english").lower() in _ENGLISH
        self.terms: set[str] = set()
        self.neg_terms: set[str] = set()
        self.phrases: list[str] = []
        self.neg_phrases: list[str] = []
        for m in _SEARCH_TOKEN.finditer(term):
            if m.group(2) is not None:
                phrase = self.normalize(m.group(2)).strip()
                if phrase:
                    (self.neg_phrases if m.group(1) else self.phrases).append(phrase)
                continue
            token = m.group(3)
            target = self.neg_terms if token.startswith("-") else self.terms
            for word in _WORD.findall(self.normalize(token)):
                if not (self.english and word.lower() in _STOP_WORDS):
                    target.add(self.word_key(word))

    def normalize(self, text: str) -> str:
        if not self.diacritic_sensitive:
            text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return text if self.case_sensitive else text.casefold()

    def word_key(self, word: str) -> str:
        return _stem(word.lower()) if self.english and not self.case_sensitive else word

    def matches(self, texts: list[str]) -> bool:
        if not texts or not (self.terms or self.phrases):
            return False
        doc = self.normalize("\n".join(texts))
        words = {self.word_key(w) for w in _WORD.findall(doc)}
        if words & self.neg_terms or any(p in doc for p in self.neg_phrases):
            return False
        if self.phrases:
            return all(p in doc for p in self.phrases)
        return bool(words & self.terms)

    def score(self, texts: list[str]) -> float:
        """MongoDB's ``textScore`` for a text index of weight 1 on this field
        (Parse Server's ``<field>_text``): per string, each search term's
        occurrences (1, 1/2, 1/4, ... for repeats) times ``0.5 * count /
        tokens + 0.5``, times 1.1 when the whole string is the term; summed
        over the strings and terms. 0 when the text does not match."""
        if not self.matches(texts):
            return 0.0
        wanted = set(self.terms)
        for phrase in self.phrases:  # a phrase's words are search terms too, as in MongoDB
            wanted |= {self.word_key(w) for w in _WORD.findall(phrase)}
        total = 0.0
        for raw in texts:
            total += self._score_string(raw, wanted)
        return total

    def _score_string(self, raw: str, wanted: set[str]) -> float:
        tokens = [self.word_key(w) for w in _WORD.findall(self.normalize(raw))
                  if not (self.english and w.lower() in _STOP_WORDS)]
        if not tokens:
            return 0.0
        counts: dict[str, int] = {}
        freqs: dict[str, float] = {}
        for term in tokens:
            counts[term] = counts.get(term, 0) + 1
            freqs[term] = freqs.get(term, 0.0) + 1 / (1 << (counts[term] - 1))
        score = 0.0
        for term in wanted & counts.keys():
            coeff = 0.5 * counts[term] / len(tokens) + 0.5
            adjustment = 1.1 if len(raw) == len(term) and raw.casefold() == term.casefold() else 1.0
            score += freqs[term] * coeff * adjustment
        return score
