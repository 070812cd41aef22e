"""Addresses from raw headers: who wrote, and where a reply may go.

The stdlib's header registry parses each header as it was written, before any RFC 2047 decoding,
so an encoded word stays a display name: `From: =?utf-8?q?priya=40example.in?=
<attacker@evil.example>` is attacker@evil.example (shown as "priya@example.in"). Decoding first
and parsing the result, as a naive reader does, lets a display name pose as the address.

Only a plain addr-spec is ever used as an address (no quotes, spaces, commas or brackets), so a
display name, a quoted local part or a folded header holding `Bcc: someone@…` never becomes a
recipient. A From that is not exactly one such address is kept as a problem: the message is taken
in, but its sender proves nothing and gets no automatic reply.
"""

import re
from dataclasses import dataclass
from email.errors import ObsoleteHeaderDefect
from email.headerregistry import HeaderRegistry
from email.message import Message

from handlers.email.text import decode_text

MAX_ADDRESS = 320  # longer is no address (and no column holds it)
PLAIN_ADDRESS = re.compile(r"[^\s\"(),:;<>@\[\]\\]+@[^\s\"(),:;<>@\[\]\\.][^\s\"(),:;<>@\[\]\\]*")
_FOLD = re.compile(r"\r?\n|\r")
_REGISTRY = HeaderRegistry()


@dataclass(frozen=True)
class Mailbox:
    address: str  # lower-cased addr-spec
    name: str | None  # the decoded display name: shown, never sent to


@dataclass(frozen=True)
class AddressList:
    mailboxes: list[Mailbox]
    problem: str | None = None  # why the header is not a clean list of plain addresses

    @property
    def addresses(self) -> list[str]:
        return [m.address for m in self.mailboxes]


@dataclass(frozen=True)
class Sender:
    """The From address when it is exactly one plain address, else None and why not."""

    address: str | None
    name: str | None
    problem: str | None = None


def raw_values(message: Message, name: str) -> list[str]:
    """Every raw value of header `name`, unfolded, with undeclared 8-bit bytes decoded."""
    key = name.lower()
    items = message.raw_items() if hasattr(message, "raw_items") else message.items()
    values = []
    for field, value in items:
        if field.lower() != key:
            continue
        text = str(value)
        if any("\udc80" <= ch <= "\udcff" for ch in text):
            text = decode_text(text.encode("utf-8", "surrogateescape"), None)[0]
        values.append(_FOLD.sub("", text))
    return values


def read_addresses(message: Message, name: str) -> AddressList:
    """The plain addresses of header `name` (every occurrence), and any problem found."""
    mailboxes: list[Mailbox] = []
    problem = None
    for value in raw_values(message, name):
        try:
            header = _REGISTRY(name, value)
            parsed = list(header.addresses)  # type: ignore[attr-defined]
            # Obsolete syntax (`Zofia W. <z@example.pl>`: a period in the name) is everyday mail;
            # an invalid one (`Bcc: x@y <a@b>`, `<a@b`) is not read as an address at all.
            defects = [d for d in header.defects if not isinstance(d, ObsoleteHeaderDefect)]
        except Exception:  # the parser gives up on some constructs; so do we, politely
            problem = problem or f"unreadable {name} header"
            continue
        if defects:
            problem = problem or f"malformed {name} header"
        for found in parsed:
            address = found.addr_spec
            if len(address) > MAX_ADDRESS or not PLAIN_ADDRESS.fullmatch(address):
                problem = problem or f"not a plain address in {name}"
                continue
            mailboxes.append(Mailbox(address.lower(), found.display_name or None))
    return AddressList(mailboxes, problem)


def sender_of(message: Message) -> Sender:
    """Who the From header says wrote the message; several or malformed From addresses give no
    address (no reply goes to a guess) and a problem (the sender proves nothing)."""
    froms = raw_values(message, "from")
    if not froms:
        return Sender(None, None, "no From header")
    if len(froms) > 1:
        return Sender(None, None, "several From headers")
    found = read_addresses(message, "from")
    names = [m.name for m in found.mailboxes if m.name]
    if len(found.mailboxes) > 1:
        return Sender(None, None, "several From addresses")
    if found.problem or not found.mailboxes:
        return Sender(None, names[0] if names else None, found.problem or "no From address")
    mailbox = found.mailboxes[0]
    return Sender(mailbox.address, mailbox.name)


def is_null_sender(message: Message) -> bool:
    """`From: <>`: the null sender of bounces and other machine mail."""
    return any(value.strip() == "<>" for value in raw_values(message, "from"))
