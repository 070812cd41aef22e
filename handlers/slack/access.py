"""Who is asking, from Slack: agents are the users listed in `slack.agent_users`, members of
`slack.agent_user_groups` or of `slack.agent_channels`; everyone else is refused politely before
anything is read. What an agent may then do to a ticket is the core's table
(`bot/tickets/permissions.py`), checked in the action layer for every command and button press.
"""

import logging
import threading
import time
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config.app import AppConfig
from bot.tickets import permissions

log = logging.getLogger("triage.slack")

REFUSAL = (
    "Sorry, this is for help-desk agents only. If you need help with an exam, "
    "post in the help channel or write to the desk and an agent will pick it up."
)
CACHE_SECONDS = 120.0


@dataclass(frozen=True)
class Actor:
    slack_user_id: str
    agent: bool
    owner_id: str | None
    triage_lead: bool = False
    leads: frozenset[str] = frozenset()  # the teams this person leads

    @property
    def lead(self) -> bool:
        return self.triage_lead or bool(self.leads)

    @property
    def name(self) -> str:
        """How the audit trail names this person: their owner id, else their Slack id."""
        return self.owner_id or f"slack:{self.slack_user_id}"

    def principal(self) -> permissions.Actor:
        """This person as the core's action layer sees them (a non-agent holds no agent role)."""
        return permissions.Actor(
            name=self.name,
            kind="agent" if self.agent else "candidate",
            owner_id=self.owner_id if self.agent else None,
        )


class Directory:
    """Resolves Slack users to actors, asking Slack for group and channel members (cached)."""

    def __init__(self, config: AppConfig, client: WebClient, ttl: float = CACHE_SECONDS) -> None:
        self.config = config
        self.client = client
        self.ttl = ttl
        self._lock = threading.Lock()
        self._members: tuple[float, frozenset[str]] | None = None
        self._profiles: dict[str, tuple[str | None, str | None]] = {}

    def actor(self, slack_user_id: str) -> Actor:
        owner = self.config.owner_by_slack(slack_user_id)
        owner_id = owner.id if owner else None
        return Actor(
            slack_user_id=slack_user_id,
            agent=self.is_agent(slack_user_id),
            owner_id=owner_id,
            triage_lead=owner_id is not None and owner_id == self.config.triage_lead,
            leads=frozenset(
                name
                for name, team in self.config.teams.items()
                if owner_id and team.lead == owner_id
            ),
        )

    def profile(self, slack_user_id: str) -> tuple[str | None, str | None]:
        """The user's name and email address from their Slack profile (None when unreadable)."""
        with self._lock:
            if slack_user_id in self._profiles:
                return self._profiles[slack_user_id]
        try:
            user = self.client.users_info(user=slack_user_id).get("user") or {}
        except SlackApiError as exc:
            log.warning(
                "cannot read the profile of %s: %s", slack_user_id, exc.response.get("error")
            )
            return None, None
        profile = user.get("profile") or {}
        found = (user.get("real_name") or profile.get("real_name"), profile.get("email"))
        with self._lock:
            self._profiles[slack_user_id] = found
        return found

    def is_agent(self, slack_user_id: str) -> bool:
        if slack_user_id in self.config.slack.agent_users:
            return True
        return slack_user_id in self._group_members()

    def _group_members(self) -> frozenset[str]:
        with self._lock:
            if self._members and time.monotonic() - self._members[0] < self.ttl:
                return self._members[1]
        members: set[str] = set()
        for group in self.config.slack.agent_user_groups:
            members |= self._ask("usergroups_users_list", "users", usergroup=group)
        for channel in self.config.slack.agent_channels:
            members |= self._ask("conversations_members", "members", channel=channel)
        found = frozenset(members)
        with self._lock:
            self._members = (time.monotonic(), found)
        return found

    def _ask(self, method: str, key: str, **kwargs: str) -> set[str]:
        try:
            response = getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:  # a group we cannot read grants nobody access
            log.warning(
                "cannot list agents via %s %s: %s", method, kwargs, exc.response.get("error")
            )
            return set()
        return set(response.get(key) or [])
