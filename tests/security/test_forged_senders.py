"""Forged senders, by raw mail through `triage ingest eml` and `triage worker --once`: whatever an
outsider writes in From, Sender, Reply-To or Authentication-Results, they never get a candidate's
facts, never touch the candidate's ticket, and no reply goes anywhere but the From they wrote."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.records.importer import import_records
from bot.store.models import Ticket
from bot.store.models.outbox import OutboxItem
from tests.security.conftest import (
    EMILY,
    EMILY_SECRETS,
    PRIYA,
    PRIYA_SECRETS,
    TRUSTED,
    Mailroom,
    mail,
)

ATTACKER = "mallory@evil.example"
PRIYA_ASKS = "I took 71-621 and 71-622 in the beta but only one voucher came. Where is the other?"
THANKS = "All solved now, thank you!"


def pass_for(domain: str) -> str:
    """What the desk's mail server writes for mail that really comes from `domain`."""
    return (
        f"Authentication-Results: {TRUSTED}; spf=pass smtp.mailfrom={domain};\r\n"
        f" dkim=pass header.d={domain}; dmarc=pass header.from={domain}\r\n"
    )


def ticket(db: Session, ticket_id: int) -> Ticket:
    db.expire_all()
    found = db.get(Ticket, ticket_id)
    assert found is not None
    return found


def outsiders_read(desk: Mailroom) -> str:
    """Everything sent to anyone but Priya and the desk's own people."""
    sent = zip(desk.sink.messages, desk.sink.envelopes, strict=True)
    return "\n".join(
        m.as_string()
        for m, (_, rcpts) in sent
        if not any(r == PRIYA or r.endswith("@desk.example.org") for r in rcpts)
    )


def assert_told_nothing(told: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in told, secret


@pytest.mark.parametrize(
    "sender",
    [
        "=?utf-8?q?priya.raman=40example.in?= <mallory@evil.example>",  # encoded word
        '"priya.raman@example.in" <mallory@evil.example>',  # quoted display name
        "mallory@evil.example (priya.raman@example.in)",  # a comment
        "=?utf-8?b?cHJpeWEucmFtYW5AZXhhbXBsZS5pbg==?= <mallory@evil.example>",  # base64 word
    ],
)
def test_a_display_name_or_comment_holding_her_address_is_not_her(
    desk: Mailroom, db: Session, sender: str
) -> None:
    [hers] = desk.take(mail(PRIYA, PRIYA_ASKS + " MCP ID 4012345", msgid="p1@example.in"))[
        "ticket_ids"
    ]
    forged = desk.take(mail(sender, PRIYA_ASKS, msgid="f1@evil.example"))
    thanks = desk.take(
        mail(sender, THANKS, msgid="f2@evil.example", subject=f"Re: voucher [TRI-{hers}]")
    )
    desk.deliver()
    assert forged["sender"] == thanks["sender"] == ATTACKER
    assert hers not in forged["ticket_ids"] + thanks["ticket_ids"]
    assert ticket(db, hers).status == "escalated"
    assert_told_nothing(desk.read(ATTACKER), [*PRIYA_SECRETS, f"TRI-{hers}"])


@pytest.mark.parametrize(
    "sender",
    [
        "priya.raman@example.in, mallory@evil.example",  # two addresses
        "victims: priya.raman@example.in, mallory@evil.example;",  # a group of two
        "priya.raman@example.in (x) <mallory@evil.example>",  # an address, then another
        "<priya.raman@example.in> <mallory@evil.example>",
    ],
)
def test_a_from_with_two_addresses_proves_nothing_and_gets_no_reply(
    desk: Mailroom, db: Session, sender: str
) -> None:
    [hers] = desk.take(mail(PRIYA, PRIYA_ASKS + " MCP ID 4012345", msgid="p1@example.in"))[
        "ticket_ids"
    ]
    desk.take(mail(sender, THANKS, msgid="f1@evil.example", subject=f"Re: x [TRI-{hers}]"))
    asked = desk.take(mail(sender, PRIYA_ASKS + " MCP ID 4012345", msgid="f2@evil.example"))
    desk.deliver()
    assert asked["sender"] is None and asked["ticket_ids"]  # taken in, for a person
    assert ticket(db, hers).status == "escalated"
    assert desk.to(ATTACKER) == []
    assert [m["In-Reply-To"] for m in desk.to(PRIYA)] == ["<p1@example.in>"]


def test_sender_and_reply_to_never_decide_who_wrote_or_who_is_told(desk: Mailroom) -> None:
    # Emily's own mail, with a Sender and a Reply-To pointing at the attacker
    theirs = desk.take(
        mail(
            EMILY,
            "MCP ID 1034567. Can I use my beta voucher for 70-640?",
            msgid="e1@example.com",
            headers=f"Sender: {ATTACKER}\r\nReply-To: {ATTACKER}\r\n",
        )
    )
    # and the attacker's, with Sender and Reply-To naming Emily
    desk.take(
        mail(
            ATTACKER,
            "MCP ID 1034567. Can I use my beta voucher for 70-640?",
            msgid="m1@evil.example",
            headers=f"Sender: {EMILY}\r\nReply-To: {EMILY}\r\n",
        )
    )
    desk.deliver()
    assert theirs["sender"] == EMILY
    assert "P4VX" in desk.read(EMILY)  # her answer reached her, at her From
    assert_told_nothing(desk.read(ATTACKER), EMILY_SECRETS)
    # the attacker's acknowledgement went to the attacker's From, not to Emily
    assert [m["In-Reply-To"] for m in desk.to(EMILY)] == ["<e1@example.com>"]


def test_her_address_in_another_case_is_her_address(desk: Mailroom) -> None:
    """Domains are case-insensitive and mail providers treat local parts so too: the same
    mailbox, so the same proven sender (her From must still pass the mail server's checks)."""
    result = desk.take(
        mail("Emily.Carter@Example.COM", "Can I use my beta voucher for 70-640?", msgid="c@x")
    )
    desk.deliver()
    assert result["sender"] == EMILY
    assert "P4VX" in desk.read(EMILY)


@pytest.mark.parametrize(
    "sender",
    [
        "priya.raman@exаmple.in",  # a Cyrillic a in the domain
        "priya.raman@example.in\u200b",  # a zero-width space
        "priya.raman\u00ad@example.in",  # a soft hyphen
        "\u202eni.elpmaxe@namar.ayirp",  # right-to-left override: reads as her address
    ],
)
def test_a_look_alike_of_her_address_is_not_her(desk: Mailroom, db: Session, sender: str) -> None:
    [hers] = desk.take(mail(PRIYA, PRIYA_ASKS + " MCP ID 4012345", msgid="p1@example.in"))[
        "ticket_ids"
    ]
    asked = desk.take(
        mail(sender, "Where is my voucher for 71-622? I wrote before.", msgid="l1@evil.example")
    )
    desk.take(mail(sender, THANKS, msgid="l2@evil.example", subject=f"Re: x [TRI-{hers}]"))
    desk.deliver()
    assert hers not in asked["ticket_ids"]
    assert ticket(db, hers).status == "escalated"
    own = [ticket(db, t) for t in asked["ticket_ids"]]
    assert all(t.candidate_mcp_id is None for t in own)
    assert_told_nothing(outsiders_read(desk), PRIYA_SECRETS)


def test_an_invisible_character_in_an_address_proves_nothing(desk: Mailroom) -> None:
    """An address holding an invisible or direction-changing character shows as another address
    to whoever reads it: it is no address the desk writes to or keys a ticket on."""
    for n, sender in enumerate(["priya.raman@example.in\u200b", "mallory\u202e@evil.example"]):
        result = desk.take(mail(sender, "Where is my voucher?", msgid=f"z{n}@evil.example"))
        assert result["sender"] is None and result["ticket_ids"]
    desk.deliver()
    assert desk.sink.messages == []


# --- the desk's mail server as witness (email.trusted_authserv_id) ---------------------------


def test_her_own_mail_vouched_for_by_the_desks_server_gets_her_answer(
    guarded_desk: Mailroom,
) -> None:
    guarded_desk.take(
        mail(
            EMILY,
            "Can I use my beta voucher for 70-640?",
            msgid="e1@example.com",
            headers=pass_for("example.com"),
        )
    )
    guarded_desk.deliver()
    assert "P4VX" in guarded_desk.read(EMILY)


FORGED_VERDICTS = {
    # her domain publishes DMARC: the forgery fails it
    "dmarc-fail": (
        f"Authentication-Results: {TRUSTED}; spf=pass smtp.mailfrom=evil.example;"
        " dkim=none; dmarc=fail (p=reject) header.from=example.in\r\n"
    ),
    # her domain publishes no DMARC policy; the forger's own domain passes SPF
    "no-dmarc-spf-elsewhere": (
        f"Authentication-Results: {TRUSTED}; spf=pass smtp.mailfrom=evil.example;"
        " dkim=none; dmarc=none header.from=example.in\r\n"
    ),
    # no DMARC policy, and the forger's server publishes no SPF either
    "nothing-checked": f"Authentication-Results: {TRUSTED}; spf=none; dkim=none\r\n",
    # a DKIM signature, but the forger's domain's
    "dkim-elsewhere": (
        f"Authentication-Results: {TRUSTED}; dkim=pass header.d=evil.example;"
        " spf=none smtp.mailfrom=evil.example\r\n"
    ),
    # the sender wrote the desk server's pass below the server's own fail
    "forged-pass-below": (
        f"Authentication-Results: {TRUSTED}; dmarc=fail header.from=example.in\r\n"
        + pass_for("example.in")
    ),
    # another server's word only
    "other-server": (
        "Authentication-Results: mx.evil.example; dmarc=pass header.from=example.in\r\n"
    ),
}


@pytest.mark.parametrize("verdict", sorted(FORGED_VERDICTS))
def test_a_from_the_desks_server_does_not_vouch_for_proves_nothing(
    guarded_desk: Mailroom, db: Session, verdict: str
) -> None:
    headers = FORGED_VERDICTS[verdict]
    [hers] = guarded_desk.take(
        mail(PRIYA, PRIYA_ASKS + " MCP ID 4012345", msgid="p1@example.in",
             headers=pass_for("example.in"))
    )["ticket_ids"]  # fmt: skip
    assert ticket(db, hers).identity_status is None  # hers, proven
    thanks = guarded_desk.take(
        mail(PRIYA, THANKS, msgid="f1@evil.example", subject=f"Re: voucher [TRI-{hers}]",
             headers=headers)
    )  # fmt: skip
    asked = guarded_desk.take(
        mail(PRIYA, "What was my result for 71-621? And my invitation code for 71-623?",
             msgid="f2@evil.example", headers=headers)
    )  # fmt: skip
    guarded_desk.deliver()
    assert hers not in thanks["ticket_ids"] + asked["ticket_ids"]
    assert ticket(db, hers).status == "escalated"
    own = [ticket(db, t) for t in asked["ticket_ids"]]
    assert own and all(t.candidate_mcp_id is None and t.facts_summary == [] for t in own)
    # a forged From is the victim's own address: she is not sent mail she never wrote
    assert [m["In-Reply-To"] for m in guarded_desk.to(PRIYA)] == ["<p1@example.in>"]


def test_a_look_alike_letter_that_lower_cases_to_hers_is_not_her(
    guarded_desk: Mailroom, db: Session, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The Kelvin sign lower-cases to a plain k: `kofi@\u212aumasi.example` is Kofi's address
    once lower-cased, but it is another domain to the mail server (or none at all)."""
    kofi = "kofi@kumasi.example"
    (tmp_path / "candidates.csv").write_text(
        f"mcp_id,name,emails,country,region,slack_user_id\n5290123,Kofi Mensah,{kofi},Ghana,EMEA,\n"
    )
    (tmp_path / "vouchers.csv").write_text(
        "mcp_id,code,issued_at,for_exam,scope,redeemed_at\n"
        "5290123,EM26-KOFI-9Z9Z,2026-04-02,71-621,any,\n"
    )
    files = [tmp_path / "candidates.csv", tmp_path / "vouchers.csv"]
    assert not import_records(sessions, files).errors
    verdict = (
        f"Authentication-Results: {TRUSTED}; spf=pass smtp.mailfrom=evil.example;"
        " dkim=none; dmarc=none header.from=\u212aumasi.example\r\n"
    )
    asked = guarded_desk.take(
        mail("kofi@\u212aumasi.example", "Can I use my beta voucher for 70-640?",
             msgid="k1@evil.example", headers=verdict)
    )  # fmt: skip
    guarded_desk.deliver()
    assert asked["sender"] != kofi
    assert all(ticket(db, t).candidate_mcp_id is None for t in asked["ticket_ids"])
    assert_told_nothing(
        "\n".join(m.as_string() for m in guarded_desk.sink.messages), ["9Z9Z", "Kofi", "Mensah"]
    )


def test_verifying_a_forged_senders_ticket_sends_nothing_to_the_forged_address(
    guarded_desk: Mailroom, db: Session
) -> None:
    """A From the mail server did not vouch for is not the writer's address: once an agent has
    verified who wrote (say, by calling Emily back), her answer goes to the address on her record,
    not to the address the mail merely showed."""
    shown = "sam.hill@example.org"
    verdict = (
        f"Authentication-Results: {TRUSTED}; spf=pass smtp.mailfrom=evil.example;"
        " dkim=none; dmarc=fail header.from=example.org\r\n"
    )
    [own] = guarded_desk.take(
        mail(shown, "MCP ID 1034567. Can I use my beta voucher for 70-640?", msgid="v1@evil",
             headers=verdict)
    )["ticket_ids"]  # fmt: skip
    assert ticket(db, own).identity_status == "unverified"
    ran = guarded_desk.cli("tickets", "verify", f"TRI-{own}", "1034567", "--as", "lena")
    assert ran.code == 0, ran.err
    guarded_desk.deliver()
    assert_told_nothing(guarded_desk.read(shown), EMILY_SECRETS)
    # her answer waits for Slack: a DM to the Slack user on her record
    answers = db.scalars(select(OutboxItem).where(OutboxItem.kind == "answer")).all()
    assert [(a.channel, a.recipient) for a in answers] == [("slack", "U0EMILY")]
