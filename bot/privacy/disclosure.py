"""Who may be told a candidate's record facts: one rule for every channel.

A message is *about* the candidate it identifies (an MCP id in the text, the Slack user, the
sender's address: `bot.records.identify`). Its writer is *proven* to be that candidate only when
the channel vouches for them:

- the sender's address is one listed on the candidate's record, and the channel does not mark the
  sender unproven (an email whose From the desk's mail server failed, or that has no single
  readable From address);
- or the Slack user id is the one on the candidate's record;
- or an agent wrote it (logging a call, pasting a candidate's message into a private chat with the
  bot): agents may read facts privately.

An MCP id quoted by anyone else says whom the message is about, never whom to tell. Record facts
(results, vouchers, registrations, invitations, transcript, even the name) go only to a proven
writer; an unproven one gets their own ticket, linked to the candidate they name, and an
acknowledgement that carries nothing of that candidate.
"""

from dataclasses import dataclass

from bot.records.identify import Identification
from bot.records.schemas import CandidateRecords
from bot.store.bounds import ADDRESS_CHARS
from bot.types import InboundMessage

# The key of an unproven sender's own tickets: never equal to a proven sender's key, so a forged
# From cannot join, answer or resolve the tickets of the address it imitates.
UNPROVEN_PREFIX = "unproven:"


@dataclass(frozen=True)
class Disclosure:
    """What the bot may reveal to the writer of one message.

    `about` is the candidate the message identifies (None: nobody, nothing to reveal); `proven`
    says whether the writer is shown to be them; `reason` says why, for the audit trail."""

    about: CandidateRecords | None
    proven: bool
    reason: str

    @property
    def unverified(self) -> bool:
        """The message names a candidate its writer is not proven to be."""
        return self.about is not None and not self.proven


def judge(message: InboundMessage, identification: Identification) -> Disclosure:
    """The disclosure rule for one message and the candidate it was identified as."""
    about = identification.candidate
    if about is None:
        return Disclosure(None, False, "no candidate identified")
    proven, reason = writer_is(about, message)
    return Disclosure(about, proven, reason)


def writer_is(candidate: CandidateRecords, message: InboundMessage) -> tuple[bool, str]:
    """Whether the writer of `message` is proven to be `candidate`, and why (or why not)."""
    if message.actor:
        return True, f"written by agent {message.actor}"
    if not message.sender_verified:
        return False, "the sender's address is unproven (the mail server did not vouch for it)"
    record = candidate.candidate
    if message.slack_user_id and record.slack_user_id == message.slack_user_id:
        return True, "the Slack user on the candidate's record"
    address = (message.sender_email or "").strip().casefold()
    if address and address in {e.casefold() for e in record.emails}:
        return True, "a sender address on the candidate's record"
    return False, f"the writer is not shown to be MCP {record.mcp_id}"


def writer_key(message: InboundMessage) -> str | None:
    """The key of the writer's own tickets: their address, else their Slack user. An unproven
    sender's address is marked, so it never matches the key of the person it may imitate."""
    key = message.sender_email or message.slack_user_id
    if key and not message.sender_verified:
        return f"{UNPROVEN_PREFIX}{key}"[:ADDRESS_CHARS]
    return key
