"""Settings: secrets and endpoints from the environment (or `.env`), the deployment from `app.yaml`.

Nothing here runs at import time: `load_settings()` builds a `Settings` object that callers pass
down, so tests build their own.
"""

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.app import AppConfig, load_app_config
from bot.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///triage.db"
SLACK_DEFAULT_API_URL = "https://slack.com/api/"


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


def load_env_settings(**overrides: object) -> EnvSettings:
    try:
        return EnvSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError("environment", key, first["msg"]) from None


def load_settings(*, config_path: Path | None = None, **env_overrides: object) -> Settings:
    """Build the settings: read the environment and `.env`, then validate `app.yaml`."""
    env = load_env_settings(**env_overrides)
    if config_path is not None:
        env.triage_config = config_path
    return Settings(env, load_app_config(env.triage_config))
