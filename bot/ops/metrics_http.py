"""A small HTTP endpoint for processes that serve no web app (`triage worker`): `/metrics`,
`/healthz` and `/readyz`, on a thread of their own."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import Engine

from bot.ops import metrics
from bot.ops.health import liveness, readiness


def start_metrics_server(
    engine: Engine, *, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """Serve until the process ends; `port=0` picks a free port (`server.server_port`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics.render(engine), metrics.CONTENT_TYPE)
            elif path == "/healthz":
                self._send(200, json.dumps(liveness()).encode(), "application/json")
            elif path == "/readyz":
                ok, details = readiness(engine)
                self._send(200 if ok else 503, json.dumps(details).encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:  # scrapes are not worth a log line
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
