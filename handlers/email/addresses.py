"""Addresses from raw headers: who wrote, and where a reply may go.

The stdlib's header registry parses each header as it was written, before any RFC 2047 decoding,
so an encoded word stays a display name: `From: =?utf-8?q?priya=40example.in?=
<attacker@evil.example>` is attacker@evil.example (shown as "priya@example.in"). Decoding first
and parsing the result, as a naive reader does, lets a display name pose as the address.

Only a plain addr-spec is ever used as an address (no quotes, spaces, commas or brackets), so a
display name, a quoted local part or a folded header holding `Bcc: someone@…` never becomes a
recipient. Nor is an address that reads as another one: an invisible or direction-changing
character (a zero-width space, a right-to-left override) or a compatibility look-alike that
lower-cases to a plain letter (the Kelvin sign is a `k` once lower-cased). A From that is not
exactly one such address is kept as a problem: the message is taken in, but its sender proves
nothing and gets no automatic reply.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass
from email.errors import ObsoleteHeaderDefect
from email.headerregistry import HeaderRegistry
from email.message import Message

from handlers.email.text import decode_text

MAX_ADDRESS = 320  # longer is no address (and no column holds it)
PLAIN_ADDRESS = re.compile(r"[^\s\"(),:;<>@\[\]\\]+@[^\s\"(),:;<>@\[\]\\.][^\s\"(),:;<>@\[\]\\]*")
_FOLD = re.compile(r"\r?\n|\r")
# Control, format (zero-width, bidi), surrogate, private-use, unassigned, separator characters.
_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
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
            parsed, defects = _parse(name, value)
        except Exception:  # the parser gives up on some constructs; so do we, politely
            problem = problem or f"unreadable {name} header"
            continue
        if defects:
            problem = problem or f"malformed {name} header"
        for address, display_name in parsed:
            if (
                len(address) > MAX_ADDRESS
                or not PLAIN_ADDRESS.fullmatch(address)
                or not reads_as_written(address)
            ):
                problem = problem or f"not a plain address in {name}"
                continue
            mailboxes.append(Mailbox(address.lower(), display_name or None))
    return AddressList(mailboxes, problem)


def reads_as_written(address: str) -> bool:
    """Whether `address` shows as the characters it is: nothing invisible, nothing that turns
    into another letter once normalised or lower-cased."""
    if any(unicodedata.category(ch) in _UNSEEN for ch in address):
        return False
    return address.isascii() or unicodedata.normalize("NFKC", address) == address


@functools.lru_cache(maxsize=4096)
def _parse(name: str, value: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The (addr-spec, display name) pairs of one header value, and whether its syntax is
    invalid. Remembered: the noise screen and the parser both read a message's From, and a desk
    reads the same From and To lines all day (the registry's parser is slow)."""
    header = _REGISTRY(name, value)
    parsed = tuple((a.addr_spec, a.display_name) for a in header.addresses)  # type: ignore[attr-defined]
    # Obsolete syntax (`Zofia W. <z@example.pl>`: a period in the name) is everyday mail; an
    # invalid one (`Bcc: x@y <a@b>`, `<a@b`) is not read as an address at all.
    return parsed, any(not isinstance(d, ObsoleteHeaderDefect) for d in header.defects)


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
