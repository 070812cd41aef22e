"""Who a message is from, read from the raw headers, and what the trusted mail server says of it."""

import pytest

from handlers.email.parse import parse_email, to_inbound

TRUSTED = "mx.desk.example.org"


def parsed(headers: str, *, trusted: str | None = None):  # type: ignore[no-untyped-def]
    raw = f"{headers}Subject: hi\r\nMessage-ID: <a@b.example>\r\n\r\nHello\r\n".encode()
    return parse_email(raw, trusted_authserv_id=trusted)


@pytest.mark.parametrize(
    ("header", "address", "name"),
    [
        ("=?utf-8?q?priya=40example.in?= <attacker@evil.example>", "attacker@evil.example",
         "priya@example.in"),
        ('"Bcc: x@evil.example" <emily@example.com>', "emily@example.com", "Bcc: x@evil.example"),
        ("Emily\r\n Carter <Emily@Example.COM>", "emily@example.com", "Emily Carter"),
        ("=?utf-8?b?55Sw5Lit5aSq6YOO?= <taro@example.jp>", "taro@example.jp", "田中太郎"),
        ("plain@example.org", "plain@example.org", None),
        ("Zofia W. <z.w@uni.example.edu>", "z.w@uni.example.edu", "Zofia W."),
        ("Dr. J. R. Tolkien <jrr@example.org>", "jrr@example.org", "Dr. J. R. Tolkien"),
    ],
)  # fmt: skip
def test_the_address_is_the_addr_spec_never_the_display_name(
    header: str, address: str, name: str | None
) -> None:
    message = parsed(f"From: {header}\r\n")
    assert (message.sender_email, message.sender_name) == (address, name)
    assert message.sender_verified and to_inbound(message).sender_verified


@pytest.mark.parametrize(
    "headers",
    [
        "From: a@example.com, b@example.com\r\n",
        "From: a@example.com\r\nFrom: b@example.com\r\n",
        "From: Bcc: x@evil.example <a@example.com>\r\n",
        "From: <a@example.com\r\n",
        "From: =?utf-8?q?a=0D=0ABcc:_x@evil.example?= <a@example.com>\r\n",
        'From: "a b"@evil.example\r\n',
        "From: undisclosed-recipients:;\r\n",
        "From: nobody@\r\n",
        "Sender: a@example.com\r\n",
    ],
)
def test_several_missing_or_malformed_from_addresses_prove_nothing(headers: str) -> None:
    message = parsed(headers)
    assert message.sender_email is None and not message.sender_verified
    inbound = to_inbound(message)
    assert not inbound.sender_verified and inbound.meta["sender_unproven"]


def test_reply_to_and_recipients_are_plain_addresses() -> None:
    message = parsed(
        "From: a@example.com\r\nReply-To: =?utf-8?q?a=40example.com?= <collector@evil.example>\r\n"
        'To: "Desk, Help" <support@desk.example.org>, b@example.com\r\n'
    )
    assert message.reply_to == "collector@evil.example"
    assert message.to == ["support@desk.example.org", "b@example.com"]
    assert to_inbound(message).sender_email == "a@example.com"


PASS = f"Authentication-Results: {TRUSTED}; dmarc=pass header.from=example.com\r\n"


@pytest.mark.parametrize(
    ("results", "proven"),
    [
        (PASS, True),
        (PASS.replace("dmarc=pass", "dmarc=fail"), False),
        # a DMARC pass for another domain says nothing of this From
        (f"Authentication-Results: {TRUSTED}; dmarc=pass header.from=other.example;"
         " spf=fail smtp.mailfrom=example.com\r\n", False),
        # only the topmost of the trusted server's headers counts: the others came with the mail
        (PASS + PASS.replace("dmarc=pass", "dmarc=fail"), True),
        (f"Authentication-Results: {TRUSTED}; dkim=pass header.d=mail.example.com\r\n", True),
        (f"Authentication-Results: {TRUSTED}; spf=pass smtp.mailfrom=bounce@example.com\r\n", True),
        (f"Authentication-Results: {TRUSTED}; spf=pass smtp.mailfrom=evil.example;"
         " dkim=fail header.d=example.com\r\n", False),
        (f"Authentication-Results: {TRUSTED}; spf=softfail smtp.mailfrom=example.com\r\n", False),
        (f"Authentication-Results: {TRUSTED}; spf=none; dkim=none\r\n", True),
        (f"Authentication-Results: {TRUSTED.upper()}; dmarc=fail\r\n", False),
        (f"Authentication-Results: {TRUSTED}; ;;;garbage===\r\n", False),  # unreadable: no word
        ("Authentication-Results: other.example; dmarc=pass header.from=example.com\r\n", False),
        ("", False),  # the desk's server said nothing: the message did not come through it
    ],
)  # fmt: skip
def test_only_the_trusted_servers_authentication_results_count(results: str, proven: bool) -> None:
    message = parsed(f"{results}From: a@example.com\r\n", trusted=TRUSTED)
    assert message.sender_email == "a@example.com"
    assert message.sender_verified is proven


def test_without_a_trusted_server_the_from_is_taken_on_trust() -> None:
    message = parsed(f"{PASS.replace('pass', 'fail')}From: a@example.com\r\n")
    assert message.sender_verified
