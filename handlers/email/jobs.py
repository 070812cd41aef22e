"""The IMAP poll as a worker job, for a worker that runs adapters' jobs next to its own
(`jobs(settings)` follows the `sender(settings)` discovery convention; no job without IMAP_HOST).
`triage ingest imap` runs the same poll as its own long-running process."""

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.ops.worker import Job
from handlers.email.imap import account_from_settings, poll_once
from handlers.email.intake import core_intake

POLL_EVERY = timedelta(minutes=1)


def jobs(settings: Settings) -> list[Job]:
    if not settings.env.imap_host:
        return []
    account = account_from_settings(settings)
    intake = core_intake(settings)

    def poll(factory: sessionmaker[Session], now: datetime) -> str:
        result = poll_once(account=account, sessions=factory, settings=settings, intake=intake)
        statuses = [taken.status for taken in result.taken]
        return (
            f"imap {account.key}: {statuses.count('stored')} stored, "
            f"{statuses.count('duplicate')} duplicate, {statuses.count('quarantined')} quarantined"
        )

    return [Job(f"imap:{account.key}", poll, lambda now: now, lambda now: now + POLL_EVERY)]
