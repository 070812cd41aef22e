"""How listeners answer the person who asked: ephemerally, with the result of slow work or its
error in one line; and how a Slack user named in a request becomes an owner id. Shared by every
listener, below them (a listener never imports another)."""

import logging
from collections.abc import Callable

from slack_bolt import Respond

from bot.errors import UserError
from bot.tickets.actions import NotAllowed
from handlers.slack import blocks
from handlers.slack.deps import Deps

log = logging.getLogger("triage.slack")

Reply = tuple[str, blocks.Blocks]


def run_reporting_errors(respond: Respond, work: Callable[[], Reply | None]) -> None:
    """Run slow work and answer with its result; its errors reach the user and the log. A
    refusal changed nothing (its transaction rolled back) and is said politely."""
    try:
        result = work()
    except NotAllowed as exc:
        log.info("refused: %s", exc)
        result = blocks.message(str(exc))
    except UserError as exc:
        result = blocks.message(str(exc))
    except Exception as exc:
        log.exception("slack work failed")
        result = blocks.message(
            f":warning: Sorry, that failed ({type(exc).__name__}); it has been logged."
        )
    if result is not None:
        text, body = result
        respond(text=text, blocks=body, response_type="ephemeral", replace_original=False)


def owner_of(deps: Deps, slack_user_id: str) -> str:
    """The owner id of a Slack user named with @, or a one-line error."""
    owner = deps.settings.app.owner_by_slack(slack_user_id)
    if owner is None:
        raise UserError(f"That person ({slack_user_id}) is not an owner in app.yaml.")
    return owner.id
