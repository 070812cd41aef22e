"""Settings: secrets and endpoints from the environment (or `.env`), the deployment from `app.yaml`.

Nothing here runs at import time: `load_settings()` builds a `Settings` object that callers pass
down, so tests build their own.
"""

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config.app import AppConfig, load_app_config
from bot.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///triage.db"
SLACK_DEFAULT_API_URL = "https://slack.com/api/"
EXAMS_FILE = "exams.yaml"  # the exam catalogue; every other knowledge file is a known issue


class EnvSettings(BaseSettings):
    """Values that differ per machine or are secret."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    triage_config: Path = Field(Path("app.yaml"), alias="TRIAGE_CONFIG")
    knowledge_dir: Path = Field(Path("knowledge"), alias="TRIAGE_KNOWLEDGE")
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(SLACK_DEFAULT_API_URL, alias="SLACK_API_URL")
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(25, alias="SMTP_PORT")
    smtp_security: str = Field("none", alias="SMTP_SECURITY")  # none | starttls | tls
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    imap_host: str | None = Field(None, alias="IMAP_HOST")
    imap_port: int = Field(993, alias="IMAP_PORT")
    imap_ssl: bool = Field(True, alias="IMAP_SSL")
    imap_username: str | None = Field(None, alias="IMAP_USERNAME")
    imap_password: SecretStr | None = Field(None, alias="IMAP_PASSWORD")
    imap_folder: str = Field("INBOX", alias="IMAP_FOLDER")
    log_format: str = Field("text", alias="LOG_FORMAT")  # text | json
    # One-shot commands stay quiet; long-running processes are usually run with INFO.
    log_level: str = Field("WARNING", alias="LOG_LEVEL")

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, value: str) -> str:
        check_database_url(value)
        return value


class Settings:
    """Everything a process needs: environment values plus the parsed `app.yaml`."""

    def __init__(self, env: EnvSettings, app: AppConfig) -> None:
        self.env = env
        self.app = app

    @property
    def database_url(self) -> str:
        return normalise_database_url(self.env.database_url)

    @property
    def knowledge_dir(self) -> Path:
        return self.env.knowledge_dir

    @property
    def config_path(self) -> Path:
        return self.env.triage_config

    def __repr__(self) -> str:
        return f"Settings(database_url={self.database_url!r}, config={str(self.config_path)!r})"


def normalise_database_url(url: str) -> str:
    """Accept the common `postgres://` spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_database_url(url: str) -> None:
    """Refuse, without echoing it (it may hold a password), a URL the bot cannot open."""
    example = "use e.g. postgresql://user:password@host/dbname or sqlite:///path/to/triage.db"
    try:
        parsed = make_url(normalise_database_url(url))
    except (ArgumentError, ValueError):
        raise ValueError(f"not a database URL ({example})") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {backend!r} ({example})")
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError:
        driver = parsed.get_driver_name()
        raise ValueError(f"the {driver!r} driver is not installed ({example})") from None


def load_env_settings(**overrides: object) -> EnvSettings:
    try:
        return EnvSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError("environment", key, first["msg"].removeprefix("Value error, ")) from None
    except UnicodeDecodeError:
        raise ConfigError(".env", "", "not UTF-8 text; save it as UTF-8") from None


def known_issue_ids(knowledge_dir: Path) -> set[str] | None:
    """The known issues' ids (their file names in `knowledge/`), or None without that folder."""
    if not knowledge_dir.is_dir():
        return None
    return {f.stem for f in knowledge_dir.glob("*.yaml") if f.name != EXAMS_FILE}


def load_settings(*, config_path: Path | None = None, **env_overrides: object) -> Settings:
    """Build the settings: read the environment and `.env`, then validate `app.yaml` (its routing
    rules against the knowledge base's issue ids when the knowledge folder is there)."""
    env = load_env_settings(**env_overrides)
    if config_path is not None:
        env.triage_config = config_path
    app = load_app_config(env.triage_config, issue_ids=known_issue_ids(env.knowledge_dir))
    return Settings(env, app)
