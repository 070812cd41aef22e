"""Finding the adapters' outbound senders without importing them by name.

An adapter package `handlers/<name>/` may have a module `outbound.py` with
`sender(settings) -> tuple[str, Sender] | None`: the outbox channel it delivers ("email",
"slack") and the function that delivers one item, or None when it is not configured. The core
(worker, CLI) asks for them here, so `bot` never names Slack or email code.
"""

import importlib
import pkgutil

from bot.outbox import Sender
from bot.settings import Settings


def discover_senders(settings: Settings) -> dict[str, Sender]:
    """The configured senders by channel; a channel whose adapter is not configured is absent."""
    import handlers

    senders: dict[str, Sender] = {}
    for info in sorted(pkgutil.iter_modules(handlers.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        name = f"handlers.{info.name}.outbound"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        found = module.sender(settings)
        if found is not None:
            channel, send = found
            senders[channel] = send
    return senders
