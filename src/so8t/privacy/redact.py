"""Removes personal identifiers from text before it reaches a model, a log or a file.

Covered: e-mail addresses, phone numbers (Japanese and international, via Google's libphonenumber rules),
payment card numbers (13-19 digits passing the Luhn check) and Japanese My Number (12 digits whose last
is the check digit). Check digits keep ordinary numbers (amounts, order numbers, dates) intact.

Matching runs on a length-preserving view of the text in which full-width digits, letters and '@' and the
dashes OCR mistakes for hyphens read as ASCII, so identifiers typed or printed in full-width form are caught
while every character outside a match is returned exactly as given.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import phonenumbers

PLACEHOLDERS = {"email": "[EMAIL]", "card": "[CARD]", "my_number": "[MY_NUMBER]", "phone": "[PHONE]"}

_FULLWIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH_TO_ASCII |= {ord(dash): ord("-") for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70"}
_FULLWIDTH_TO_ASCII[0x3000] = ord(" ")

# OCR may set a space either side of '@' or '.', so one space there is tolerated.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+ ?@ ?[A-Za-z0-9-]+(?: ?\. ?[A-Za-z0-9-]+)*(?:\.[A-Za-z]{2,}| ?\. ?[a-z]{2,})")
# Card and My Number digits come in groups (4-4-4-4, Amex 4-6-5, My Number 4-4-4), which OCR sometimes
# fuses or splits differently; any run of 3+ digit groups joined by one space or hyphen is a candidate, and
# every stretch of whole groups in it is checked, so a card followed by a year is still found. Dates
# (2024-04-30) and amounts (45,600) break runs with their short groups and commas.
_DIGIT_GROUPS = re.compile(r"(?<![0-9])[0-9]{3,}(?:[ -][0-9]{3,})*(?![0-9])")
_GROUP = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Redaction:
    """The text with identifiers replaced by placeholders, and how many of each kind were removed."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def luhn_valid(digits: str) -> bool:
    """The payment-card checksum: doubling every second digit from the right, the sum is a multiple of 10."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def my_number_valid(digits: str) -> bool:
    """The Individual Number check digit: weights 2-7 then 2-6 from the right over the first 11 digits."""
    if len(digits) != 12:
        return False
    body = [int(char) for char in digits[:11]]
    weighted = sum(value * (n + 1 if n <= 6 else n - 5) for n, value in enumerate(reversed(body), start=1))
    remainder = weighted % 11
    return int(digits[11]) == (0 if remainder <= 1 else 11 - remainder)


def _identifier_spans(view: str, region: str) -> list[tuple[int, int, str]]:
    spans = [(m.start(), m.end(), "email") for m in _EMAIL.finditer(view)]
    for run in _DIGIT_GROUPS.finditer(view):
        groups = [(run.start() + g.start(), run.start() + g.end(), g.group()) for g in _GROUP.finditer(run.group())]
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last][2]
                if len(digits) == 12 and my_number_valid(digits):
                    spans.append((groups[first][0], groups[last][1], "my_number"))
                elif 13 <= len(digits) <= 19 and luhn_valid(digits):
                    spans.append((groups[first][0], groups[last][1], "card"))
    for match in phonenumbers.PhoneNumberMatcher(view, region, leniency=phonenumbers.Leniency.VALID):
        spans.append((match.start, match.end, "phone"))
    return spans


def redact(text: str, region: str = "JP") -> Redaction:
    """Replaces every identifier with its placeholder; region is where numbers without '+' are dialled."""
    view = text.translate(_FULLWIDTH_TO_ASCII)
    kept: list[tuple[int, int, str]] = []
    # Earlier and longer matches win; a phone match inside an e-mail or card is not counted twice.
    for start, end, kind in sorted(_identifier_spans(view, region), key=lambda span: (span[0], -span[1])):
        if kept and start < kept[-1][1]:
            continue
        kept.append((start, end, kind))
    pieces, cursor = [], 0
    for start, end, kind in kept:
        pieces += [text[cursor:start], PLACEHOLDERS[kind]]
        cursor = end
    pieces.append(text[cursor:])
    return Redaction("".join(pieces), dict(Counter(kind for _, _, kind in kept)))
