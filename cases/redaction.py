# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""What a published decision must not show (公示办法 art. 9, para. 2), removed and then looked for again.

Pure text functions. A decision document is published with property data
(bank accounts, certificate numbers of property) and identity data (a
person's name, home address, ID number, contact details) removed; a summary
shows an individual party with the real name hidden.

Two layers, because a pattern never knows every name:

1. the values the case knows (the party's name, ID number, phone, address, and
   any the publisher adds) are replaced wherever they occur;
2. patterns catch the rest of what has a shape: 18- and 15-digit ID numbers,
   mobile and fixed-line numbers, long account numbers, and the number after
   a property or account label.

:func:`leaks` looks for both again in what is about to be published; a
publication with anything found is refused (``cases.publication``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

HIDDEN: Final = "某"
REMOVED: Final = "［已隐去］"

_PATTERNS: Final = (
    (
        "ID number",
        re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx](?![0-9A-Za-z])"),
    ),
    ("ID number", re.compile(r"(?<![0-9])[1-9][0-9]{5}[0-9]{2}[01][0-9][0-3][0-9]{4}(?![0-9])")),
    ("mobile number", re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])")),
    ("fixed-line number", re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}[- ][0-9]{7,8}(?![0-9])")),
    ("account number", re.compile(r"(?<![0-9])[0-9]{16,19}(?![0-9])")),
    (
        "property or account number",
        re.compile(
            r"(?:银行账号|银行卡号|开户账号|账号|卡号|不动产权证书?号?|不动产权第|房屋所有权证号?|房产证号?|"
            r"土地使用权证号?|车牌号?码?|机动车号牌)[：:\s]*[0-9A-Za-z\u4e00-\u9fff（）()\-]{4,40}"
        ),
    ),
)

_LABELS: Final = {
    "party_name": None,  # replaced by the hidden name
    "party_id_number": "［身份证号已隐去］",
    "party_phone": "［联系方式已隐去］",
    "party_address": "［住址已隐去］",
}


def hidden_name(name: str) -> str:
    """A person's name with the real name hidden: the first character and 某 (张三 → 张某)."""
    cleaned = name.strip()
    return (cleaned[:1] + HIDDEN) if cleaned else HIDDEN


def redact(text: str, known: Mapping[str, str], *, extra: Iterable[str] = ()) -> str:
    """``text`` with every known value replaced (longest first) and every pattern removed.

    ``known`` maps a field (``party_name``, ``party_id_number``, ``party_phone``,
    ``party_address``) to its value; ``extra`` are more strings the publisher
    wants gone (another person's name in the document, say).
    """
    replacements: dict[str, str] = {}
    for field, value in known.items():
        if not value.strip():
            continue
        label = _LABELS.get(field, REMOVED)
        replacements[value.strip()] = hidden_name(value) if label is None else label
    for value in extra:
        if value.strip():
            replacements.setdefault(value.strip(), REMOVED)
    for value in sorted(replacements, key=len, reverse=True):
        text = text.replace(value, replacements[value])
    for _, pattern in _PATTERNS:
        text = pattern.sub(REMOVED, text)
    return text


def leaks(text: str, known: Iterable[str]) -> list[str]:
    """What in ``text`` must not be published: a known value (named by position, never echoed) or a pattern's kind."""
    found = [
        f"known personal value #{i + 1}" for i, value in enumerate(known) if value.strip() and value.strip() in text
    ]
    found += sorted({kind for kind, pattern in _PATTERNS if pattern.search(text)})
    return found
