"""All tables; importing this package registers every model on `Base.metadata`."""

from bot.models.base import Base, UTCDateTime, utcnow
from bot.models.messages import Message, TicketMessage
from bot.models.tickets import OPEN_STATUSES, STATUSES, Ticket, TicketEvent

__all__ = [
    "OPEN_STATUSES",
    "STATUSES",
    "Base",
    "Message",
    "Ticket",
    "TicketEvent",
    "TicketMessage",
    "UTCDateTime",
    "utcnow",
]
