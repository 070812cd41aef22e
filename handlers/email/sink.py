"""A local SMTP server that keeps what it receives: the demo delivers the outbox to it, and the
tests read what the bot sent. aiosmtpd on a free loopback port, stopped on exit."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Sink:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    # Set to an SMTP reply (e.g. "451 4.3.0 try later") to refuse the next messages with it.
    refuse_with: str | None = None


class _Handler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.refuse_with:
            return self.sink.refuse_with
        message = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        assert isinstance(message, EmailMessage)
        self.sink.messages.append(message)
        self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def local_smtp_sink(host: str = "127.0.0.1", port: int | None = None) -> Iterator[Sink]:
    """Start an SMTP sink; yields it with the messages it has received so far."""
    sink = Sink(host=host, port=port or free_port(host))
    controller = Controller(_Handler(sink), hostname=host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
