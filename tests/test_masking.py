"""Codes are one rule everywhere: recognised in any case and spacing, masked the same way by the
parser, the log filter and every output; exam codes, dates and MCP IDs are never codes."""

import pytest

from bot.ops.logs import scrub
from bot.privacy.masking import mask_all, mask_codes
from bot.text.parse import parse_message

WRITTEN = [
    "IN26-9F3D-7Q2K",
    "in26-9f3d-7q2k",
    "IN26 9F3D 7Q2K",
    "in26 9f3d 7q2k",
    "IN26 - 9F3D - 7Q2K",
    "IN26-9F3D 7Q2K",
    "In26-9f3D-7Q2k",
]


@pytest.mark.parametrize("code", WRITTEN)
def test_a_code_in_any_case_and_spacing_is_masked(code: str) -> None:
    text = f"my voucher {code} was rejected at Prometric"
    masked = mask_codes(text)
    assert masked.lower() == "my voucher ****-7q2k was rejected at prometric"
    parsed = parse_message(text)
    assert [c.lower() for c in parsed.entities.voucher_codes] == ["****-7q2k"]
    assert code not in parsed.new_text and "9f3d" not in parsed.new_text.lower()
    assert code not in scrub(f"looked up {code}")


@pytest.mark.parametrize(
    "text",
    [
        "I took 71-621 and 071-622 on 2026-11-25, MCP ID 4012345",
        "exam 71 621 at 9am on the 3rd, then 1st 2nd 3rd attempts",
        "pre-2026 registrations, ticket TRI-1234, my id is 40123456",
        "utf-8 mail from a x86-64 machine",
    ],
)
def test_exam_codes_dates_ids_and_words_are_not_codes(text: str) -> None:
    assert mask_codes(text) == text
    assert parse_message(text).entities.voucher_codes == []


def test_promotion_codes_after_the_word_code_are_masked_in_any_case() -> None:
    assert mask_codes("promo code is beta621-pr7q-44km") == "promo code is ****-44km"
    assert mask_codes("code: x9k2p7q1") == "code: ****-p7q1"


def test_a_known_code_is_masked_however_the_candidate_wrote_it() -> None:
    text = "you sent in26 9f3d 7q2k, I typed IN269F3D7Q2K and in26-9F3D-7q2k"
    masked = mask_all(text, ["IN26-9F3D-7Q2K"])
    assert "9f3d" not in masked.lower() and masked.count("****-7Q2K") == 3


def test_two_codes_side_by_side_stay_two_codes() -> None:
    assert mask_codes("IN26-9F3D-7Q2K EM26-H4N5-M8LR") == "****-7Q2K ****-M8LR"
