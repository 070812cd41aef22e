"""`triage serve` (HTTP or Socket Mode), `triage slack manifest`, `triage slack corrections`."""

import os
import tempfile
from pathlib import Path
from typing import Any

import typer
import yaml

from bot.cli.common import state
from bot.config.settings import Settings
from bot.matching.corrections import export_jsonl
from bot.ops.metrics import MULTIPROC_ENV
from handlers.slack.deps import require_credentials
from handlers.slack.gate import DEFAULT_MAX_BODY, MAX_BODY_ENV
from handlers.slack.server import DELIVER_EVERY_ENV, EVENTS_PATH

BOT_SCOPES = [
    "app_mentions:read",
    "channels:history",
    "channels:read",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",  # a retried post looks for itself in a private channel's history
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "usergroups:read",
    "users:read",
    "users:read.email",
]
BOT_EVENTS = ["app_home_opened", "app_mention", "message.channels", "message.im"]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    slack = typer.Typer(
        help="The Slack app: manifest and labelled corrections.", no_args_is_help=True
    )
    slack.command("manifest")(manifest_cmd)
    slack.command("corrections")(corrections_cmd)
    app.add_typer(slack, name="slack")


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(3000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (uvicorn workers)."),
    socket: bool = typer.Option(False, "--socket", help="Socket Mode (SLACK_APP_TOKEN), no URL."),
    deliver_every: float = typer.Option(
        5.0, "--deliver-every", min=0, help="Seconds between Slack outbox retries (0: off)."
    ),
    max_body: int = typer.Option(
        DEFAULT_MAX_BODY,
        "--max-body",
        min=1024,
        help="Largest request body accepted, in bytes; a larger one is refused (413) unread.",
    ),
) -> None:
    """Run the Slack app: every request at /slack/events, health at GET /healthz."""
    cli = state(ctx)
    settings = cli.settings()
    require_credentials(settings, socket=socket)
    engine = cli.engine()  # migrates the embedded default once, before any worker starts
    if socket:
        _serve_socket(settings, cli)
        return
    import uvicorn

    if workers == 1:
        from handlers.slack.server import create_web_app, prefer_short_requests

        prefer_short_requests()
        web = create_web_app(
            settings, engine=engine, deliver_every=deliver_every, max_body=max_body
        )
        uvicorn.run(web, host=host, port=port, log_config=None, access_log=False)
        return
    # Worker processes rebuild the settings from the environment: hand them the same config.
    os.environ["TRIAGE_CONFIG"] = str(settings.config_path.resolve())
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ[DELIVER_EVERY_ENV] = str(deliver_every)
    os.environ[MAX_BODY_ENV] = str(max_body)
    # Each worker counts its own requests: they share counters through files (a fresh directory
    # unless the operator set one), so /metrics on any worker shows the sum.
    os.environ.setdefault(MULTIPROC_ENV, tempfile.mkdtemp(prefix="triage-metrics-"))
    uvicorn.run(
        "handlers.slack.server:from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # the workers' own redacting handler (configure_logging) prints
        access_log=False,
    )


def _serve_socket(settings: Settings, cli: Any) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from handlers.slack.app import build_app

    assert settings.env.slack_app_token is not None
    bolt = build_app(settings, sessions=cli.sessions())
    SocketModeHandler(bolt, settings.env.slack_app_token.get_secret_value()).start()


def manifest(settings: Settings) -> dict[str, Any]:
    """The Slack app manifest for this desk's command, events, scopes and request URL."""
    url = settings.app.slack.public_url.rstrip("/") + EVENTS_PATH
    name = settings.app.desk.name[:35]
    command = settings.app.slack.command
    return {
        "display_information": {
            "name": name,
            "description": "Triage for the beta-exam help desk: tickets, records, escalations.",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": "triage", "always_online": True},
            "slash_commands": [
                {
                    "command": command,
                    "url": url,
                    "description": "Triage a message, show tickets, queues and records",
                    "usage_hint": "help | <message> for <MCP id|email> | ticket ID | queue",
                    "should_escape": True,
                }
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": {"request_url": url, "bot_events": BOT_EVENTS},
            "interactivity": {"is_enabled": True, "request_url": url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def manifest_cmd(ctx: typer.Context) -> None:
    """Print the app manifest (YAML): paste it into api.slack.com/apps → Create from manifest."""
    typer.echo(yaml.safe_dump(manifest(state(ctx).settings()), sort_keys=False), nl=False)


def corrections_cmd(
    ctx: typer.Context,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to FILE (default stdout)."
    ),
) -> None:
    """Export "Not this issue" corrections as JSON Lines shaped like the evaluation corpus."""
    with state(ctx).sessions()() as session:
        lines = list(export_jsonl(session))
    text = "".join(line + "\n" for line in lines)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{len(lines)} corrections written to {output}", err=True)
