"""The `triage` command line: one Typer app; each feature registers its own commands."""

import sys

import click
import typer
from rich.console import Console

from bot.errors import UserError

app = typer.Typer(
    name="triage",
    help="Support-desk triage bot for the beta-exam help desks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err_console = Console(stderr=True)


def _register_commands() -> None:
    # Imported here so that importing `bot.cli` has no side effects beyond building the app.
    from bot.cli import classify

    for module in (classify,):
        module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns user errors into one line and exit code 2."""
    _register_commands()
    try:
        app(args=argv, standalone_mode=False)
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
