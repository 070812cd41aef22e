"""Acknowledge latency of `/triage <text>` under concurrent load against `triage serve`.

Starts `triage serve` (a real subprocess, uvicorn workers) on a free loopback port with its Web
API pointed at the test suite's fake Slack, then posts signed slash commands from N concurrent
clients and reports p50/p99 of the time to the HTTP answer (Slack's 3-second acknowledgement).

    python bench/bench_slack.py [--requests 1000] [--concurrency 50] [--workers 2]
        [--mode burst|sustained] [--database-url postgresql+psycopg://root@127.0.0.1:5432/bench]
"""

import argparse
import http.client
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slack.fake_slack import FakeSlack  # noqa: E402

SECRET = "bench-signing-secret"
TEXTS = [
    "my voucher never arrived, I took 071-621 and 71-622 at Prometric for 4471203",
    "prometric says A program error occurred when I register for 71-623 for 4471203",
    "I never got the invitation email for the 71-625 beta for candidate@example.org",
    "when will my 71-621 beta results come out for 4471203",
]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def start_server(
    database_url: str, fake: "RemoteFake", workers: int, log: Path
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRIAGE_CONFIG": str(ROOT / "app.yaml"),
        "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge"),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
    }
    triage = Path(sys.executable).with_name("triage")
    command = [str(triage), "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as sink:  # a pipe nobody reads would fill up and stall the server
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"triage serve exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    process.kill()
    raise SystemExit("triage serve did not become healthy in 30 s")


class RemoteFake:
    """The fake Web API in its own process, so its threads do not compete with the clients'."""

    def __init__(self) -> None:
        queue: multiprocessing.Queue[str] = multiprocessing.Queue()
        self.process = multiprocessing.Process(target=_serve_fake, args=(queue,), daemon=True)
        self.process.start()
        self.url = queue.get(timeout=30)
        self.api_url = self.url + "/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/respond/{name}"

    def count(self, method: str) -> int:
        return int(requests.get(self.url + "/calls", timeout=5).json().get(method, 0))

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=5)


def _serve_fake(queue: "multiprocessing.Queue[str]") -> None:
    fake = FakeSlack().start()
    queue.put(fake.url)
    threading.Event().wait()


def run(url: str, fake: RemoteFake, total: int, concurrency: int, mode: str) -> list[float]:
    """Latencies (ms) of `total` signed `/triage <text>` commands from `concurrency` clients.

    burst: rounds of `concurrency` simultaneous commands, each round after the previous round's
    lazy work has answered (people at a desk); sustained: every client sends its next command
    as soon as the last is acknowledged (a stress test: the lazy work piles up behind).
    """
    verifier = SignatureVerifier(SECRET)
    host, port = url.removeprefix("http://").split(":")
    local = threading.local()
    sequence = iter(range(10**9))
    lock = threading.Lock()

    def one(_: int) -> float:
        with lock:
            n = next(sequence)
        connection = getattr(local, "connection", None)
        if connection is None:  # http.client: a light client, so the bench measures the server
            connection = local.connection = http.client.HTTPConnection(host, port, timeout=10)
        body = urlencode(
            {
                "team_id": "T1",
                "channel_id": "C0AGENTS",
                "user_id": "U10AGENT",
                "command": "/triage",
                "text": TEXTS[n % len(TEXTS)],
                "response_url": fake.response_url(f"b{n}"),
                "trigger_id": f"bench.{n}.{time.time_ns()}",
            }
        )
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": verifier.generate_signature(timestamp=ts, body=body),
        }
        for attempt in (1, 2):  # the server closes keep-alive connections idle between bursts
            started = time.perf_counter()
            try:
                connection.request("POST", "/slack/events", body=body.encode(), headers=headers)
                response = connection.getresponse()
                payload = response.read()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                connection.close()
                connection = local.connection = http.client.HTTPConnection(host, port, timeout=10)
                if attempt == 2:
                    raise
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
        return elapsed * 1000

    def drained(count: int) -> None:
        deadline = time.monotonic() + 60
        while fake.count("response_url") < count and time.monotonic() < deadline:
            time.sleep(0.1)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(concurrency)))  # warm-up: connections, auth.test, knowledge
        drained(concurrency)
        if mode == "sustained":
            return list(pool.map(one, range(total)))
        latencies: list[float] = []
        while len(latencies) < total:
            latencies += list(pool.map(one, range(concurrency)))
            drained(concurrency + len(latencies))
        return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", choices=["burst", "sustained"], default="burst")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
        if not database_url.startswith("sqlite"):
            subprocess.run(
                [str(Path(sys.executable).with_name("triage")), "db", "upgrade"],
                env={
                    **os.environ,
                    "DATABASE_URL": database_url,
                    "TRIAGE_CONFIG": str(ROOT / "app.yaml"),
                },
                check=True,
                stdout=subprocess.DEVNULL,
            )
        fake = RemoteFake()
        log = Path(tmp) / "serve.log"
        process, url = start_server(database_url, fake, args.workers, log)
        try:
            started = time.perf_counter()
            latencies = run(url, fake, args.requests, args.concurrency, args.mode)
            wall = time.perf_counter() - started
            # let the lazy work (intake, replies) finish before stopping the server
            deadline = time.monotonic() + 60
            wanted = len(latencies) + args.concurrency
            while time.monotonic() < deadline and fake.count("response_url") < wanted:
                time.sleep(0.2)
            answered = fake.count("response_url")
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            server_log = log.read_text(errors="replace")
            errors = server_log.count("Traceback")
            if errors:
                first = server_log[server_log.index("Traceback") :]
                print("first server error:\n" + "\n".join(first.splitlines()[:25]))
            fake.stop()
    backend = database_url.split(":", 1)[0]
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}")
    print(
        f"backend: {backend}; workers: {args.workers}; requests: {len(latencies)}; "
        f"concurrency: {args.concurrency}; mode: {args.mode}"
    )
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"ack latency ms: p50 {p50:.1f}, p99 {p99:.1f}, "
        f"max {max(latencies):.1f}, mean {statistics.fmean(latencies):.1f}"
    )
    print(
        f"wall: {wall:.1f} s ({len(latencies) / wall:.0f} commands/s; burst mode waits for each "
        f"round's lazy work); lazy answers delivered: {answered - args.concurrency}; "
        f"tracebacks in the server log: {errors}"
    )


if __name__ == "__main__":
    main()
