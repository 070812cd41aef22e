"""What pydantic cannot see in `app.yaml` on its own: names that must point at something, and
escalation chains that must reach someone. Each problem is `(key, problem)`; the first one found
stops the load."""

from collections.abc import Collection
from difflib import get_close_matches
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config.app import AppConfig

Problem = tuple[str, str]
CHAIN_STEPS = ("owner", "backup", "team_lead", "triage_lead")


def reference_problems(config: "AppConfig") -> list[Problem]:
    """Unknown owners, teams and calendars; self-backups; chains that reach nobody."""
    owners = {owner.id for owner in config.owners}
    problems: list[Problem] = []

    def need_owner(key: str, owner_id: str | None) -> None:
        if owner_id is not None and owner_id not in owners:
            problems.append(
                (key, f"unknown owner {owner_id!r} (known: {', '.join(sorted(owners))})")
            )

    if len(owners) != len(config.owners):
        problems.append(("owners", "two owners share an id"))
    need_owner("triage_lead", config.triage_lead)
    for i, owner in enumerate(config.owners):
        need_owner(f"owners[{i}].backup", owner.backup)
        if owner.backup == owner.id:
            # The backup step would hand the ticket back to the person it is escalated from.
            problems.append((f"owners[{i}].backup", f"{owner.id!r} is their own backup"))
        if owner.calendar != "24x7" and owner.calendar not in config.calendars:
            problems.append((f"owners[{i}].calendar", f"unknown calendar {owner.calendar!r}"))
    for name, team in config.teams.items():
        need_owner(f"teams.{name}.lead", team.lead)
        for j, member in enumerate(team.members):
            need_owner(f"teams.{name}.members[{j}]", member)
    for i, rule in enumerate(config.routing):
        need_owner(f"routing[{i}].owner", rule.owner)
        if rule.team is not None and rule.team not in config.teams:
            problems.append((f"routing[{i}].team", f"unknown team {rule.team!r}"))
    problems += chain_problems(config, owners)
    for i, digest in enumerate(config.digests):
        need_owner(f"digests[{i}].owner", digest.owner)
    return problems


def chain_problems(config: "AppConfig", owners: set[str]) -> list[Problem]:
    """A chain reaches somebody, each step can name somebody, and no step repeats an earlier
    one (the SLA sweep skips a person already told, so a repeated step is never reached)."""
    chain = config.escalation.chain
    if not chain:
        return [("escalation.chain", "empty: an overdue ticket would reach nobody")]
    problems: list[Problem] = []
    earlier: dict[str, int] = {}
    for i, step in enumerate(chain):
        key = f"escalation.chain[{i}]"
        if step not in CHAIN_STEPS and step not in owners:
            steps = ", ".join(CHAIN_STEPS)
            problems.append((key, f"unknown step {step!r} (use {steps} or an owner id)"))
            continue
        if step == "backup" and not any(owner.backup for owner in config.owners):
            problems.append((key, "'backup' names nobody: no owner has a backup"))
        if step == "team_lead" and not config.teams:
            problems.append((key, "'team_lead' names nobody: no teams are defined"))
        # The triage lead step and the triage lead's own id are the same person.
        person = config.triage_lead if step == "triage_lead" else step
        if person in earlier:
            problems.append(
                (key, f"{step!r} repeats escalation.chain[{earlier[person]}]: never reached")
            )
        earlier.setdefault(person, i)
    return problems


def issue_problems(config: "AppConfig", issue_ids: Collection[str]) -> list[Problem]:
    """Routing rules may only name issues of the knowledge base (a typo would never match)."""
    problems: list[Problem] = []
    for i, rule in enumerate(config.routing):
        for j, issue in enumerate(rule.match.issues):
            if issue not in issue_ids:
                close = get_close_matches(issue, issue_ids, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "see the files in knowledge/"
                problems.append(
                    (f"routing[{i}].match.issues[{j}]", f"unknown issue id {issue!r}; {hint}")
                )
    return problems
