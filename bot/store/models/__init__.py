"""All tables. Importing this package registers every model on `Base.metadata`: each feature keeps
its tables in its own module here, and every module of the package is imported."""

import importlib
import pkgutil

from bot.store.models.base import Base, UTCDateTime, utcnow
from bot.store.models.messages import Message, TicketMessage
from bot.store.models.tickets import OPEN_STATUSES, STATUSES, Ticket, TicketEvent

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")

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
