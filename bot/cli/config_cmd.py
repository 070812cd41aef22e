"""`triage config check`: validate the settings and `app.yaml`, summarise the deployment."""

import typer
from rich.table import Table

from bot.cli.common import console, print_json, state
from bot.matching.knowledge import load_knowledge


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Inspect and validate the configuration.", no_args_is_help=True)
    config_app.command("check")(check)
    app.add_typer(config_app, name="config")


def check(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Validate the environment, app.yaml and the knowledge base; exit 2 with one line naming
    the problem."""
    settings = state(ctx).settings()
    cfg = settings.app
    # Settings check routing against the knowledge files only when the folder exists; here its
    # absence is itself the problem.
    knowledge = load_knowledge(settings.knowledge_dir)
    if as_json:
        print_json(
            {
                "config": str(settings.config_path),
                "database_url": _redacted(settings.database_url),
                "owners": [o.id for o in cfg.owners],
                "teams": sorted(cfg.teams),
                "routing_rules": [r.name for r in cfg.routing],
                "intake_channels": cfg.slack.intake_channels,
                "triage_lead": cfg.triage_lead,
                "issues": sorted(knowledge.issues),
            }
        )
        return
    console.print(f"[green]✓[/] {settings.config_path} is valid ({cfg.desk.name})")
    console.print(f"  database: {_redacted(settings.database_url)}")
    console.print(
        f"  knowledge: {len(knowledge.issues)} known issues, {len(knowledge.exams)} exams "
        f"in {settings.knowledge_dir}"
    )
    owners = Table(
        "owner", "name", "email", "slack", "time zone", "calendar", "backup", title="Owners"
    )
    for o in cfg.owners:
        lead = " (triage lead)" if o.id == cfg.triage_lead else ""
        owners.add_row(
            o.id,
            o.name + lead,
            o.email,
            o.slack_user_id or "-",
            o.timezone,
            o.calendar,
            o.backup or "-",
        )
    console.print(owners)
    rules = Table("#", "rule", "when", "routes to", title="Routing rules (first match wins)")
    for i, rule in enumerate(cfg.routing, 1):
        conditions = {k: v for k, v in rule.match.model_dump().items() if v}
        when = (
            "; ".join(
                f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in conditions.items()
            )
            or "anything"
        )
        rules.add_row(str(i), rule.name, when, rule.owner or f"team {rule.team}")
    console.print(rules)
    console.print(
        f"  Slack command {cfg.slack.command}; intake channels: "
        f"{', '.join(cfg.slack.intake_channels) or 'none'}; "
        f"digests for: {', '.join(d.owner for d in cfg.digests) or 'nobody'}"
    )


def _redacted(url: str) -> str:
    """Hide a password in a database URL."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in credentials else ''}@{host}"
