"""What every command shares: loading the settings once, opening the database, printing JSON."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings, load_settings
from bot.ops.logs import configure_logging
from bot.store.db import open_database, session_factory

console = Console(highlight=False)


@dataclass
class CliState:
    """Per-invocation state hung on the Typer context: settings and database are opened lazily."""

    config_path: Path | None = None
    _settings: Settings | None = None
    _engine: Engine | None = None
    _factory: sessionmaker[Session] | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(config_path=self.config_path)
            configure_logging(self._settings)
        return self._settings

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_database(self.settings().database_url)
        return self._engine

    def sessions(self) -> sessionmaker[Session]:
        if self._factory is None:
            self._factory = session_factory(self.engine())
        return self._factory


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
