"""Finding the adapters' outbound senders without importing them by name.

An adapter package `handlers/<name>/` may have a module `outbound.py` with
`sender(settings) -> tuple[str, Sender] | None`: the outbox channel it delivers ("email",
"slack") and the function that delivers one item, or None when it is not configured. The core
(worker, CLI) asks for them here, so `bot` never names Slack or email code.
"""

import importlib
import pkgutil
from typing import TYPE_CHECKING

from bot.outbox import Sender
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.worker import Job


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


def discover_jobs(settings: Settings) -> "list[Job]":
    """Adapters' scheduled jobs (e.g. the IMAP poll): each `handlers/<name>/jobs.py` may have
    `jobs(settings) -> list[Job]`, empty when the adapter is not configured."""
    import handlers

    found: list[Job] = []
    for info in sorted(pkgutil.iter_modules(handlers.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        name = f"handlers.{info.name}.jobs"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        if hasattr(module, "jobs"):
            found.extend(module.jobs(settings))
    return found
