"""A local stand-in for Slack's Web API: a real HTTP server on loopback that answers the methods
the app calls, records every call, and can be told to fail (429 with Retry-After, or 500).

What is posted is kept per channel, so `conversations.history` and `conversations.replies` answer
as Slack does: newest first (a thread oldest first), since `oldest`, paged by cursor, each
message's metadata only with `include_all_metadata`. Timestamps are the wall clock's, as Slack's.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT_USER = "UBOT"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    status: int
    count: int  # how many more calls fail
    retry_after: int | None = None
    methods: set[str] | None = None  # None: every method


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.usergroups: dict[str, list[str]] = {}
        self.channel_members: dict[str, list[str]] = {}
        self.public_channels: set[str] = set()  # conversations.info says is_private for others
        self.user_emails: dict[str, str] = {}
        self.socket_url: str | None = None  # what apps.connections.open hands out (Socket Mode)
        self.failures: list[Failure] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel: posted, oldest first
        self._lock = threading.Lock()
        self._ts = 0  # microseconds
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- control ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str = "r") -> str:
        return f"{self.url}/respond/{name}"

    def start(self) -> "FakeSlack":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: int | None = None,
        methods: set[str] | None = None,
    ) -> None:
        """The next `count` calls (of `methods`, or any) answer `status`."""
        with self._lock:
            self.failures.append(Failure(status, count, retry_after, methods))

    def recover(self) -> None:
        with self._lock:
            self.failures.clear()

    def called(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """The calls of `method` once there are at least `count` (lazy listeners run later)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.called(method)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s), got {self.called(method)}")

    def posts(self, channel: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """The successful chat.postMessage calls to `channel`, once there are `count`."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                c
                for c in self.called("chat.postMessage")
                if c.args.get("channel") == channel and "_failed" not in c.args
            ]
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if len(found) < count:
            raise AssertionError(f"expected {count} post(s) to {channel}, got {found}")
        return found

    def said(self) -> list[str]:
        """Every text the app sent, in order (messages, ephemerals, responses, views)."""
        texts = []
        for call in list(self.calls):
            if call.method in ("chat.postMessage", "chat.postEphemeral", "response_url"):
                texts.append(render_text(call.args))
        return texts

    # -- serving ---------------------------------------------------------------------------
    def _next_ts(self) -> str:
        with self._lock:
            self._ts = max(time.time_ns() // 1000, self._ts + 1)
            return f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"

    def _post(self, channel: str, args: dict[str, Any]) -> str:
        ts = self._next_ts()
        message = {"type": "message", "bot_id": "BBOT", "ts": ts, "text": args.get("text", "")}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        metadata = args.get("metadata")
        message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return ts

    def _history(self, args: dict[str, Any], *, thread: str | None) -> dict[str, Any]:
        oldest = float(args.get("oldest") or 0)
        with self._lock:
            found = [
                m
                for m in self.messages.get(args.get("channel", ""), [])
                if float(m["ts"]) > oldest
                and (
                    m.get("thread_ts") in (None, m["ts"])
                    if thread is None
                    else m["ts"] == thread or m.get("thread_ts") == thread
                )
            ]
        if thread is None:
            found.reverse()
        start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 100)
        page = found[start : start + limit]
        if str(args.get("include_all_metadata", "")).lower() not in ("1", "true"):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = str(start + limit) if start + limit < len(found) else ""
        return {"ok": True, "messages": page, "response_metadata": {"next_cursor": more}}

    def _failure_for(self, method: str) -> Failure | None:
        with self._lock:
            for failure in self.failures:
                if failure.count > 0 and (failure.methods is None or method in failure.methods):
                    failure.count -= 1
                    return failure
        return None

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": BOT_USER,
                "bot_id": "BBOT",
                "team_id": "T1",
                "user": "triage",
            }
        if method in ("chat.postMessage", "chat.update"):
            channel = args.get("channel", "")
            if channel.startswith("CGONE"):
                return {"ok": False, "error": "channel_not_found"}
            ts = args.get("ts") or self._post(channel, args)
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "conversations.history":
            return self._history(args, thread=None)
        if method == "conversations.replies":
            return self._history(args, thread=args.get("ts", ""))
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X"))[1:]}}
        if method == "conversations.members":
            return {"ok": True, "members": self.channel_members.get(args.get("channel", ""), [])}
        if method == "conversations.info":
            channel = args.get("channel", "")
            private = channel not in self.public_channels
            return {"ok": True, "channel": {"id": channel, "is_private": private}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(args.get("usergroup", ""), [])}
        if method == "users.info":
            user = args.get("user", "")
            profile = {"real_name": user, "email": self.user_emails.get(user)}
            return {"ok": True, "user": {"id": user, "name": user.lower(), "profile": profile}}
        if method == "apps.connections.open":
            if self.socket_url is None:
                return {"ok": False, "error": "not_allowed_token_type"}
            return {"ok": True, "url": self.socket_url}
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V1"}}
        if method == "views.open":
            return {"ok": True, "view": {"id": "VMODAL1"}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{self._next_ts().replace('.', '')}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        return {"ok": False, "error": "unknown_method"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path.startswith("/api/"):  # Web API methods read with GET (history)
                    args = {k: v[0] for k, v in parse_qs(url.query).items()}
                    return self._call(url.path.removeprefix("/api/"), args)
                # how many calls of each method: for a client in another process (the benchmark)
                counts: dict[str, int] = {}
                for call in list(fake.calls):
                    counts[call.method] = counts.get(call.method, 0) + 1
                return self._send(200, json.dumps(counts).encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                path = self.path.split("?")[0]
                if path.startswith("/upload/"):
                    fake._record("upload", {"file": path.rsplit("/", 1)[1], "bytes": len(body)})
                    return self._send(200, b"OK", "text/plain")
                args = _parse(body, self.headers.get("content-type", ""))
                if path.startswith("/respond/"):
                    fake._record("response_url", args)
                    return self._send(200, b"ok", "text/plain")
                return self._call(path.removeprefix("/api/"), args)

            def _call(self, method: str, args: dict[str, Any]) -> None:
                failure = fake._failure_for(method)
                fake._record(method, args, failed=failure.status if failure else None)
                if failure is not None:
                    headers = (
                        {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                    )
                    error = "ratelimited" if failure.status == 429 else "internal_error"
                    return self._send(
                        failure.status,
                        json.dumps({"ok": False, "error": error}).encode(),
                        headers=headers,
                    )
                return self._send(200, json.dumps(fake.answer(method, args)).encode())

            def _send(
                self,
                status: int,
                payload: bytes,
                content_type: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def _record(self, method: str, args: dict[str, Any], failed: int | None = None) -> None:
        with self._lock:
            self.calls.append(Call(method, {**args, **({"_failed": failed} if failed else {})}))


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in content_type:
        return json.loads(body)
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


def shown(mrkdwn: str) -> str:
    """What a reader sees of escaped text: Slack shows `&lt;` as `<` (markup is not decoded:
    a test that cares whether a mention or link is live reads the raw arguments)."""
    return mrkdwn.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_text(args: dict[str, Any]) -> str:
    """A message as a reader sees it: its blocks' text (buttons and menus named), else `text`,
    with Slack's entities shown as the characters they stand for."""
    return shown(_block_text(args))


def _block_text(args: dict[str, Any]) -> str:
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not blocks:
        return str(args.get("text", ""))
    lines = []
    for block in blocks:
        if block.get("type") in ("section", "header"):
            lines.append(block["text"]["text"])
        elif block.get("type") == "context":
            lines.extend(e.get("text", "") for e in block["elements"])
        elif block.get("type") == "actions":
            names = [
                e["text"]["text"] if "text" in e else e.get("placeholder", {}).get("text", "")
                for e in block["elements"]
            ]
            lines.append(" ".join(f"[{n}]" for n in names))
    return "\n".join(lines)
