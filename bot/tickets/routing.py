"""Routing: which one named owner gets a ticket, and which rule of `app.yaml` chose them.

Rules are tried in order and the first whose conditions all hold wins. A rule naming a team picks
the member with the fewest open tickets (ties by the order listed), the team lead when it has no
members. When nothing matches, the triage lead takes it. Pure: the load is passed in.
"""

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from bot.config.app import AppConfig, RoutingRule

DEFAULT_RULE = "default:triage-lead"


class Route(NamedTuple):
    owner: str
    team: str | None
    rule: str


def _norm(values: Sequence[str]) -> set[str]:
    return {v.casefold() for v in values}


def rule_matches(
    rule: RoutingRule,
    *,
    issue: str | None,
    region: str | None,
    country: str | None,
    exams: Sequence[str],
    priority: str,
    source: str,
) -> bool:
    match = rule.match
    if match.unknown_issue and issue is not None:
        return False
    if match.issues and issue not in match.issues:
        return False
    places = _norm([p for p in (region, country) if p])
    if match.regions and not places & _norm(match.regions):
        return False
    if match.countries and (country is None or country.casefold() not in _norm(match.countries)):
        return False
    if match.exams and not set(exams) & set(match.exams):
        return False
    if match.priorities and priority not in match.priorities:
        return False
    return not (match.sources and source not in match.sources)


def pick_member(config: AppConfig, team: str, open_load: Mapping[str, int] | None) -> str:
    """The team member with the fewest open tickets (first listed wins a tie); else the lead."""
    spec = config.teams[team]
    if not spec.members:
        return spec.lead
    load = open_load or {}
    return min(spec.members, key=lambda member: (load.get(member, 0), spec.members.index(member)))


def route(
    config: AppConfig,
    *,
    issue: str | None,
    region: str | None,
    country: str | None,
    exams: Sequence[str],
    priority: str,
    source: str,
    open_load: Mapping[str, int] | None = None,
) -> Route:
    """The owner for a ticket with these attributes, the team they answer for, and the rule."""
    for rule in config.routing:
        if not rule_matches(
            rule, issue=issue, region=region, country=country, exams=exams,
            priority=priority, source=source,
        ):  # fmt: skip
            continue
        if rule.owner is not None:
            return Route(rule.owner, config.team_of(rule.owner), rule.name)
        assert rule.team is not None  # the config guarantees one of owner or team
        return Route(pick_member(config, rule.team, open_load), rule.team, rule.name)
    lead = config.triage_lead
    return Route(lead, config.team_of(lead), DEFAULT_RULE)
