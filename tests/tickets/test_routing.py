"""Routing: ordered rules from app.yaml, team members by load, the triage lead by default."""

import pytest

from bot.config.app import AppConfig, RoutingRule
from bot.tickets.routing import Route, route


def _route(config: AppConfig, issue: str | None, region: str | None = "EMEA",
           country: str | None = "United Kingdom", **kw: object) -> Route:  # fmt: skip
    args: dict = {"exams": ["71-621"], "priority": "normal", "source": "email", **kw}
    return route(config, issue=issue, region=region, country=country, **args)


@pytest.mark.parametrize(
    ("issue", "region", "country", "owner", "rule"),
    [
        ("unexpected-registration", "APAC", "Japan", "maria", "possible-fraud-to-lead"),
        (None, "India", "India", "maria", "unknown-to-triage-lead"),
        ("voucher-missing", "India", "India", "ananya", "india-vouchers"),
        ("voucher-missing", "APAC", "India", "ananya", "india-vouchers"),  # country matches
        ("voucher-scope", "EMEA", "Germany", "dev", "vouchers"),
        ("promo-code-rejected", "APAC", "Japan", "kenji", "apac-registrations"),
        ("invitation-not-received", "EMEA", "France", "lena", "registrations"),
        ("region-restricted", "EMEA", "France", "maria", "region-restrictions"),
        ("results-pending", None, None, "maria", "exams-and-results"),
        ("not-in-any-rule", "India", "India", "ananya", "india-desk"),
        ("not-in-any-rule", "North America", "Canada", "sam", "north-america-desk"),
        ("not-in-any-rule", None, None, "maria", "default:triage-lead"),
    ],
)
def test_first_matching_rule_names_one_owner(
    config: AppConfig, issue: str | None, region: str | None, country: str | None,
    owner: str, rule: str,
) -> None:  # fmt: skip
    chosen = _route(config, issue, region, country)
    assert (chosen.owner, chosen.rule) == (owner, rule)


def test_team_rule_picks_the_least_loaded_member_ties_by_order(config: AppConfig) -> None:
    teams = {**config.teams, "exams": config.teams["exams"].model_copy(
        update={"members": ["maria", "lena"]})}  # fmt: skip
    wide = config.model_copy(update={"teams": teams})
    assert _route(wide, "results-pending").owner == "maria"
    assert _route(wide, "results-pending", open_load={"maria": 3, "lena": 1}).owner == "lena"
    assert _route(wide, "results-pending", open_load={"maria": 2, "lena": 2}).owner == "maria"


def test_team_without_members_falls_back_to_its_lead(config: AppConfig) -> None:
    teams = {**config.teams, "exams": config.teams["exams"].model_copy(update={"members": []})}
    assert _route(config.model_copy(update={"teams": teams}), "results-pending").owner == "maria"


def test_rules_match_on_exam_priority_and_source(config: AppConfig) -> None:
    urgent_phone = RoutingRule.model_validate(
        {"name": "urgent-phone-621", "owner": "oliver",
         "match": {"exams": ["71-621"], "priorities": ["urgent"], "sources": ["phone"]}}
    )  # fmt: skip
    custom = config.model_copy(update={"routing": [urgent_phone, *config.routing]})
    assert (
        _route(custom, "voucher-scope", priority="urgent", source="phone").rule
        == "urgent-phone-621"
    )
    assert _route(custom, "voucher-scope", priority="urgent", source="email").rule == "vouchers"
    assert _route(custom, "voucher-scope", priority="high", source="phone").rule == "vouchers"
    assert (
        _route(custom, "voucher-scope", exams=["71-622"], priority="urgent", source="phone").rule
        == "vouchers"
    )


def test_every_shipped_rule_is_reachable(config: AppConfig) -> None:
    """Each rule of app.yaml wins for some input: none is shadowed by the rules above it."""
    for rule in config.routing:
        match = rule.match
        place = match.regions[0] if match.regions else None
        chosen = _route(
            config,
            None if match.unknown_issue else (match.issues[0] if match.issues else "no-such-issue"),
            region=place,
            country=match.countries[0] if match.countries else place,
            exams=match.exams[:1] or ["71-621"],
            priority=(match.priorities or ["normal"])[0],
            source=(match.sources or ["email"])[0],
        )
        assert chosen.rule == rule.name, f"rule {rule.name} is never chosen"
