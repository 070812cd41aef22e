"""Shared fixtures: settings built per test, a real database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set) migrated once per run and emptied after every test, and the real
knowledge base with one matcher for the whole session."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings, load_settings
from bot.matching.knowledge import KnowledgeBase, load_knowledge
from bot.matching.matcher import Matcher
from bot.store.db import make_engine, session_factory, upgrade
from bot.store.models import Base

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = ROOT / "knowledge"
DATA_DIR = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:  # every run starts from an empty schema
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield session_factory(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Restart the id sequences too, so tickets are numbered as on a fresh database.
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        config_path=ROOT / "app.yaml",
        DATABASE_URL=database_url,
        TRIAGE_KNOWLEDGE=ROOT / "knowledge",
    )


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE_DIR)


@pytest.fixture(scope="session")
def matcher(knowledge: KnowledgeBase) -> Matcher:
    return Matcher(knowledge)


RunCli = Callable[..., tuple[int, str, str]]


def cli_runner(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    config: Path = ROOT / "app.yaml",
) -> RunCli:
    """The real `triage` CLI in-process on the test database: run(*args) -> (exit code, out,
    err), with no Slack token or SMTP host from the environment."""
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("SLACK_BOT_TOKEN", "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = 0
        try:
            main(["--config", str(config), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
