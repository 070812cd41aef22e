"""Parsing real-world mail: charsets, HTML, attachments, forwarded mail, tags and threading."""

import pytest

from handlers.email.parse import UnparseableEmail, parse_email, raw_bytes, ticket_tag
from handlers.email.text import decode_text, html_to_text
from tests.email.conftest import corpus


@pytest.mark.parametrize(
    ("fixture", "subject", "text_contains"),
    [
        ("plain-voucher.eml", "Voucher for 71-621 still missing", "MCP ID is 1234567"),
        ("latin1.eml", "Problème d'inscription à l'examen 71-623", "« A program error occurred »"),
        (
            "cp1252-mislabelled.eml",
            "Promo code rejected",
            "“this promotion code is not valid” – I paid €0",
        ),
        (
            "wrong-charset-utf8-label.eml",
            "Exame 71-622 não disponível",
            "não está disponível. Obrigada – Ana",
        ),
        ("iso-2022-jp.eml", "ベータ試験の結果 71-624", "ベータ試験の結果はいつ届きますか"),
        ("raw-8bit-headers.eml", "Registrering misslyckades — hjälp", "Registreringen för 71-621"),
        (
            "multipart-alternative.eml",
            "When do beta results come?",
            "When will the results arrive?",
        ),
        ("malformed-mime.eml", "broken encoded word", "my voucher for 71-621 is missing"),
        ("cpython-msg_15.txt", "XX", "Some removed test."),
    ],
)
def test_text_and_subject_survive_charsets_and_broken_mime(
    fixture: str, subject: str, text_contains: str
) -> None:
    parsed = parse_email(corpus(fixture))
    assert parsed.subject == subject
    assert text_contains in parsed.text
    assert "\ufffd" not in parsed.text


def test_plain_text_is_preferred_to_html() -> None:
    parsed = parse_email(corpus("multipart-alternative.eml"))
    assert "(HTML)" not in parsed.text
    assert not parsed.html_only


def test_html_only_mail_becomes_readable_text_without_scripts_or_styles() -> None:
    parsed = parse_email(corpus("html-only.eml"))
    assert parsed.html_only
    assert "invitation" in parsed.text and "MCP ID is 7654321" in parsed.text
    assert "alert" not in parsed.text and "color" not in parsed.text


def test_sender_name_is_decoded_and_address_lower_cased() -> None:
    parsed = parse_email(corpus("iso-2022-jp.eml"))
    assert (parsed.sender_name, parsed.sender_email) == ("田中太郎", "taro.tanaka@example.jp")


def test_mislabelled_utf8_records_the_fallback_charset() -> None:
    assert parse_email(corpus("wrong-charset-utf8-label.eml")).charset_fallback == "cp1252"
    assert parse_email(corpus("plain-voucher.eml")).charset_fallback is None


def test_decode_text_never_fails() -> None:
    assert decode_text(b"caf\xc3\xa9", "no-such-charset") == ("café", "utf-8")
    assert decode_text(b"\x93hi\x94", "iso-8859-1") == ("“hi”", None)
    assert decode_text(b"\x81\x8d", "utf-8")[0]  # undefined in cp1252 too: latin-1 still reads it


def test_attachments_are_recorded_by_name_type_and_size() -> None:
    parsed = parse_email(corpus("attachment-screenshot.eml"))
    [attachment] = parsed.attachments
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "error.png",
        "image/png",
        108,
    )
    assert not attachment.oversized and not parsed.raw_trimmed


def test_winmail_dat_is_recognised_as_tnef() -> None:
    parsed = parse_email(corpus("tnef-winmail.eml"))
    assert [(a.filename, a.tnef) for a in parsed.attachments] == [("winmail.dat", True)]
    assert "transcript does not show" in parsed.text


def test_oversized_attachment_is_cut_from_the_stored_raw_but_recorded() -> None:
    parsed = parse_email(corpus("attachment-screenshot.eml"), max_attachment_bytes=50)
    assert parsed.attachments[0].oversized and parsed.raw_trimmed
    assert "not stored: larger than email.max_attachment_bytes" in parsed.raw
    assert "iVBORw0KGgo" not in parsed.raw  # the PNG's base64 is gone
    assert parse_email(parsed.raw.encode()).text == parsed.text


def test_raw_is_kept_verbatim_byte_for_byte() -> None:
    for name in ("latin1.eml", "iso-2022-jp.eml", "cp1252-mislabelled.eml", "plain-voucher.eml"):
        original = corpus(name)
        parsed = parse_email(original)
        assert raw_bytes(parsed.raw, parsed.raw_encoding) == original


def test_forwarded_message_is_recorded() -> None:
    parsed = parse_email(corpus("forwarded-attachment.eml"))
    assert parsed.forwarded == [
        {
            "from": "Prometric <noreply@prometric.example>",
            "subject": "Special promotion code required",
        }
    ]
    inline = parse_email(corpus("forwarded-inline.eml"))
    assert "You are registered for 71-626" in inline.text  # the core decides what is quoted


def test_reply_carries_ticket_tag_and_threading_ids() -> None:
    parsed = parse_email(corpus("reply-with-tag.eml"), ticket_prefix="TRI")
    assert parsed.ticket_id == 1234
    assert parsed.in_reply_to == [
        "<ack.1234.1@triage.desk.example.org>",
        "<plain-voucher-1@mail.example.com>",
    ]
    assert parsed.thread_key == "<plain-voucher-1@mail.example.com>"
    assert parsed.external_id == "<reply-tag-1@mail.example.com>"


@pytest.mark.parametrize(
    ("subject", "prefix", "expected"),
    [
        ("Re: [TRI-1234] We received your message", "TRI", 1234),
        ("RE: [tri-7] thanks", "TRI", 7),
        ("AW: Re: [ TRI - 55 ] hallo", "TRI", 55),
        ("[HD-9] other desk", "TRI", None),
        ("TRI-12 without brackets", "TRI", None),
        ("[HD-9] this desk", "HD", 9),
        (None, "TRI", None),
    ],
)
def test_ticket_tag(subject: str | None, prefix: str, expected: int | None) -> None:
    assert ticket_tag(subject, prefix) == expected


def test_missing_message_id_gets_a_stable_id_from_the_content() -> None:
    first = parse_email(corpus("missing-message-id.eml"))
    again = parse_email(b"Received: from relay by mx; today\n" + corpus("missing-message-id.eml"))
    assert first.message_id is None
    assert first.external_id.startswith("<sha256-") and first.external_id.endswith(".invalid>")
    assert again.external_id == first.external_id


def test_same_message_id_with_different_content_has_a_different_fingerprint() -> None:
    first = parse_email(corpus("duplicate-message-id-a.eml"))
    redelivered = parse_email(corpus("duplicate-message-id-a-redelivered.eml"))
    other = parse_email(corpus("duplicate-message-id-b.eml"))
    assert first.external_id == other.external_id
    assert first.fingerprint == redelivered.fingerprint != other.fingerprint


@pytest.mark.parametrize("fixture", ["empty.eml", "not-mail.bin"])
def test_bytes_that_are_not_mail_are_refused(fixture: str) -> None:
    with pytest.raises(UnparseableEmail):
        parse_email(corpus(fixture))


def test_html_to_text_keeps_line_breaks() -> None:
    assert html_to_text("<p>one<br>two</p><p>three</p>") == "one\ntwo\n\nthree"
