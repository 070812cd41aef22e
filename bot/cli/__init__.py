"""The `triage` command line: one Typer app; each feature registers its own commands."""

import importlib
import pkgutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from bot.cli.common import state
from bot.errors import UserError

app = typer.Typer(
    name="triage",
    help="Support-desk triage bot for the beta-exam help desks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err_console = Console(stderr=True)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", envvar="TRIAGE_CONFIG", help="Path of app.yaml (default ./app.yaml)."
    ),
) -> None:
    state(ctx).config_path = config


_registered = False


def _register_commands() -> None:
    """Every module of this package, and every adapter's `handlers.<name>.cli` module, that has
    `register(app)` adds its commands (done once). Discovery keeps the core free of adapter
    imports: `bot` never names Slack or email code."""
    global _registered
    if _registered:
        return
    import bot.cli as package
    from bot.ops.adapters import adapter_modules

    core = [
        importlib.import_module(f"bot.cli.{m.name}") for m in pkgutil.iter_modules(package.__path__)
    ]
    # A module that adds commands to another's group says so with `REGISTER_AFTER`.
    core.sort(key=lambda module: len(getattr(module, "REGISTER_AFTER", ())))
    for module in (*core, *adapter_modules("cli")):
        if hasattr(module, "register"):
            module.register(app)
    for entry in entry_points(group="triage.commands"):
        entry.load()(app)
    _registered = True


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns user errors into one line and exit code 2.

    Usage errors (unknown command, missing argument) are Typer's own: it prints the usage line
    and exits with 2. Always ends in `SystemExit`, as a console script does."""
    _register_commands()
    try:
        app(args=argv)
    except UserError as exc:
        # Escaped: the message quotes the user's input, which may look like Rich markup.
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
