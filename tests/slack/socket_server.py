"""A loopback stand-in for Slack's Socket Mode endpoint (the `websockets` package): it greets
each connection with `hello`, sends envelopes (events_api, slash_commands, interactive) on the
newest connection, collects the app's acks by `envelope_id`, and can ask the app to reconnect
(`disconnect`) or drop the connection outright."""

import asyncio
import json
import threading
import time
import uuid
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve


class SocketModeServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.connections: list[ServerConnection] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.port = 0
        self._server: Server | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test"

    def start(self) -> "SocketModeServer":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Socket Mode stand-in did not start")
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def begin() -> None:
            self._server = await serve(self._handle, "127.0.0.1", 0)
            self.port = next(iter(self._server.sockets)).getsockname()[1]
            self._ready.set()

        self.loop.run_until_complete(begin())
        self.loop.run_forever()

    async def _handle(self, connection: ServerConnection) -> None:
        with self._lock:
            self.connections.append(connection)
        hello = {"type": "hello", "num_connections": len(self.connections),
                 "connection_info": {"app_id": "A1"},
                 "debug_info": {"host": "loopback"}}  # fmt: skip
        await connection.send(json.dumps(hello))
        async for message in connection:
            data = json.loads(message)
            if "envelope_id" in data:
                with self._lock:
                    self.acks[data["envelope_id"]] = data

    # -- what a test does ---------------------------------------------------------------------
    def wait_connections(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.connections) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} connections, got {len(self.connections)}")
            time.sleep(0.05)

    def _send(self, message: dict[str, Any]) -> None:
        connection = self.connections[-1]
        asyncio.run_coroutine_threadsafe(connection.send(json.dumps(message)), self.loop).result(10)

    def envelope(self, kind: str, payload: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        """Send one envelope on the newest connection and return the app's ack for it."""
        envelope_id = str(uuid.uuid4())
        self._send({"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api", "retry_attempt": 0,
                    "retry_reason": ""})  # fmt: skip
        deadline = time.monotonic() + timeout
        while envelope_id not in self.acks:
            if time.monotonic() > deadline:
                raise AssertionError(f"no ack for the {kind} envelope")
            time.sleep(0.02)
        return self.acks[envelope_id]

    def ask_to_reconnect(self) -> None:
        """What Slack sends before it retires a connection."""
        self._send({"type": "disconnect", "reason": "refresh_requested",
                    "debug_info": {"host": "loopback"}})  # fmt: skip

    def drop(self) -> None:
        """Close the newest connection without warning."""
        connection = self.connections[-1]
        asyncio.run_coroutine_threadsafe(connection.close(), self.loop).result(10)
