"""The who-may-do-what table: roles by actions, a desk's overrides in app.yaml, and its checks
in the action layer (the one place they are enforced)."""

from pathlib import Path

import pytest
import yaml

from bot.config.app import AppConfig, load_app_config
from bot.errors import ConfigError
from bot.store.models import Ticket
from bot.tickets.actions import NotAllowed, authorize, may
from bot.tickets.permissions import DEFAULT, Act, Actor, Grant, Role

ROOT = Path(__file__).resolve().parents[2]

FRONT_LINE = Actor(name="slack:U10AGENT", kind="agent")
DEV = Actor(name="dev", kind="agent", owner_id="dev")  # owns vouchers' tickets, leads vouchers
LENA = Actor(name="lena", kind="agent", owner_id="lena")  # leads registrations
MARIA = Actor(name="maria", kind="agent", owner_id="maria")  # the triage lead
PRIYA = Actor(name="4012345", kind="candidate", candidate_key="4012345")
OPERATOR = Actor.operator("cli:ops")


def ticket(owner: str | None = "oliver", team: str | None = "registrations") -> Ticket:
    return Ticket(id=7, owner=owner, team=team, candidate_key="4012345", status="escalated")


@pytest.mark.parametrize(
    ("actor", "act", "owner", "named", "allowed"),
    [
        (FRONT_LINE, Act.ESCALATE, "oliver", False, True),  # along the chain
        (FRONT_LINE, Act.ESCALATE, "oliver", True, False),  # not to a person they name
        (FRONT_LINE, Act.RESOLVE, "oliver", False, False),
        (FRONT_LINE, Act.SEND_ANSWER, "oliver", False, True),
        (FRONT_LINE, Act.VERIFY_IDENTITY, "oliver", False, True),
        (FRONT_LINE, Act.RELABEL, "oliver", False, True),
        (FRONT_LINE, Act.ASSIGN, None, False, False),
        (DEV, Act.ASSIGN, None, False, True),  # an owner takes a ticket nobody owns
        (DEV, Act.RESOLVE, None, False, False),  # ... but does not resolve it unowned
        (DEV, Act.RESOLVE, "oliver", False, False),  # another team's ticket
        (DEV, Act.ESCALATE, "oliver", True, False),
        (LENA, Act.RESOLVE, "oliver", False, True),  # her team's ticket
        (LENA, Act.REASSIGN, "oliver", True, True),
        (LENA, Act.MERGE, "oliver", False, True),
        (MARIA, Act.MERGE, "dev", False, True),
        (MARIA, Act.ESCALATE, "dev", True, True),
        (PRIYA, Act.RESOLVE, "oliver", False, True),  # her own ticket
        (PRIYA, Act.REOPEN, "oliver", False, False),
        (OPERATOR, Act.MERGE, "oliver", True, True),
    ],
)
def test_the_table_decides(
    config: AppConfig, actor: Actor, act: Act, owner: str | None, named: bool, allowed: bool
) -> None:
    team = "registrations" if owner == "oliver" else ("vouchers" if owner else None)
    assert may(config, actor, act, ticket=ticket(owner, team), named_target=named) is allowed


def test_a_candidate_may_not_resolve_someone_elses_ticket(config: AppConfig) -> None:
    stranger = Actor(name="x@evil.example", kind="candidate", candidate_key="x@evil.example")
    with pytest.raises(NotAllowed):
        authorize(config, stranger, Act.RESOLVE, ticket=ticket())


def test_every_role_and_action_has_a_cell() -> None:
    assert set(DEFAULT) == set(Role)
    assert all(set(row) == set(Act) for row in DEFAULT.values())
    assert DEFAULT[Role.CANDIDATE][Act.SEE_RECORDS] is Grant.YES  # their own, on a proven channel


def write(tmp_path: Path, permissions: object) -> Path:
    data = yaml.safe_load((ROOT / "app.yaml").read_text())
    data["permissions"] = permissions
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_desk_overrides_one_cell(tmp_path: Path) -> None:
    path = write(tmp_path, {"front_line_agent": {"escalate": True, "relabel": False}})  # yes/no
    config = load_app_config(path)
    assert config.permissions == {"front_line_agent": {"escalate": "yes", "relabel": "no"}}
    assert may(config, FRONT_LINE, Act.ESCALATE, ticket=ticket(), named_target=True)
    assert not may(config, FRONT_LINE, Act.RELABEL, ticket=ticket())


@pytest.mark.parametrize(
    ("permissions", "problem"),
    [
        ({"interns": {"escalate": "yes"}}, "unknown role 'interns'"),
        ({"owner": {"delete": "yes"}}, "unknown action 'delete'"),
        ({"owner": {"resolve": "sometimes"}}, "'sometimes' is not one of no, yes"),
        ({"owner": {"resolve": "chain"}}, "'chain' is not one of no, yes"),
        ({"candidate": {"reopen": "yes"}}, "candidates' rights can only be 'no'"),
        ({"owner": "yes"}, "expected role: {action: grant} mappings"),
    ],
)
def test_a_bad_override_is_one_line(tmp_path: Path, permissions: object, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_app_config(write(tmp_path, permissions))
    message = str(error.value)
    assert "permissions" in message and problem in message and "\n" not in message


def test_the_readme_states_the_table_the_code_enforces() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Who may do what", 1)[1].split("\n\n")
    table = next(block for block in section if block.startswith("| action |"))
    header, _, *rows = table.splitlines()
    columns = header.strip("|").split("|")[1:]  # "front-line agent" is role front_line_agent
    roles = [Role(c.strip().replace("-", "_").replace(" ", "_")) for c in columns]
    stated = {}
    for row in rows:
        name, *cells = [c.strip() for c in row.strip("|").split("|")]
        act = Act(name.split(" (")[0].replace(" ", "_"))
        for role, cell in zip(roles, cells, strict=True):
            word = cell.split()[0]
            stated[role, act] = Grant("yes" if word == "their" else word)
    assert stated == {(role, act): DEFAULT[role][act] for role in Role for act in Act}
