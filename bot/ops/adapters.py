"""Finding what the adapters offer the core without importing them by name.

An adapter package `handlers/<name>/` may have:
- `outbound.py` with `sender(settings) -> tuple[str, Sender] | None`: the outbox channel it
  delivers ("email", "slack") and the function that delivers one item, or None when it is not
  configured;
- `jobs.py` with `jobs(settings) -> list[Job]`: scheduled jobs (e.g. the IMAP poll), empty when
  the adapter is not configured;
- `cli.py` with `register(app)`: its `triage` commands (found by `bot.cli`).
The core (worker, CLI) asks for them here, so `bot` never names Slack or email code.
"""

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

from bot.config.settings import Settings
from bot.delivery.outbox import Sender

if TYPE_CHECKING:
    from bot.ops.worker import Job


def adapter_modules(module: str) -> Iterator[ModuleType]:
    """`handlers.<name>.<module>` of every adapter package that has one, in name order."""
    import handlers

    for info in sorted(pkgutil.iter_modules(handlers.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        name = f"handlers.{info.name}.{module}"
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but something it imports does not
                raise


def discover_senders(settings: Settings) -> dict[str, Sender]:
    """The configured senders by channel; a channel whose adapter is not configured is absent."""
    senders: dict[str, Sender] = {}
    for module in adapter_modules("outbound"):
        found = module.sender(settings)
        if found is not None:
            channel, send = found
            senders[channel] = send
    return senders


def discover_jobs(settings: Settings) -> "list[Job]":
    """Every configured adapter's scheduled jobs."""
    return [job for module in adapter_modules("jobs") for job in module.jobs(settings)]
