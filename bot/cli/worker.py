"""`triage worker`: the SLA sweep, owner digests and outbox delivery on a schedule."""

import signal
import threading
from datetime import datetime

import typer

from bot.cli.common import console, state
from bot.ops.adapters import discover_jobs, discover_senders
from bot.ops.metrics_http import start_metrics_server
from bot.ops.worker import run_worker
from bot.surges.job import surge_jobs


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        ctx: typer.Context,
        once: bool = typer.Option(False, "--once", help="Run one round and exit."),
        interval: float = typer.Option(15.0, "--interval", min=0.1, help="Seconds between rounds."),
        metrics_port: int | None = typer.Option(
            None, "--metrics-port", help="Serve /metrics, /healthz, /readyz on this port."
        ),
        metrics_host: str = typer.Option("127.0.0.1", "--metrics-host"),
    ) -> None:
        """Run scheduled jobs (SLA sweep every minute, digests on schedule, surge detection
        every `surges.every`) and deliver the outbox. Several workers may share PostgreSQL;
        on SQLite run one. SIGTERM stops it."""
        cli = state(ctx)
        settings = cli.settings()
        senders = discover_senders(settings)
        # Surge detection reads the window's tickets and alerts the triage lead (bot.surges).
        extra_jobs = [*surge_jobs(settings), *discover_jobs(settings)]
        stop = threading.Event()
        if metrics_port is not None:
            server = start_metrics_server(cli.engine(), host=metrics_host, port=metrics_port)
            console.print(f"worker: metrics on http://{metrics_host}:{server.server_port}/metrics")

        def _stop(signum: int, _frame: object) -> None:
            console.print(f"worker: {signal.Signals(signum).name}, stopping after this round")
            stop.set()

        previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
        channels = ", ".join(sorted(senders)) or "none (outbox items wait)"
        names = ", ".join(job.name for job in extra_jobs) or "none"
        console.print(
            f"worker: delivering by {channels}; adapter jobs: {names}; every {interval:g}s"
        )

        def report(done: dict[str, str]) -> None:
            for name, summary in done.items():
                console.print(f"{datetime.now().astimezone():%H:%M:%S} {name}: {summary}")

        try:
            run_worker(
                cli.sessions(), settings.app, senders, stop=stop, interval=interval,
                once=once, extra_jobs=extra_jobs, report=report,
            )  # fmt: skip
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        console.print("worker: stopped")
