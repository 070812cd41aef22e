"""The records of every candidate a batch of messages may name, read with one query per table.

`PrefetchedRecords` answers like `DatabaseRecords` (same `find` and `get`, same
`CandidateRecords`) for the keys given up front; a key nobody named beforehand is looked up
in the database as usual, so an answer is never missing, only slower.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.records.lookup import CHILDREN
from bot.records.schemas import (
    CandidateRecords,
    CandidateRow,
    RestrictionRow,
)
from bot.records.source import DatabaseRecords, mcp_id_of
from bot.store.models.records import (
    Candidate,
    CandidateEmail,
    RegionRestriction,
)

# The candidate's own child tables, as the single lookup reads them (restrictions are per
# country, read apart).
_CHILDREN: dict[str, tuple[Any, Any]] = {
    field: (model, row) for field, model, row, _ in CHILDREN if field != "restrictions"
}


def _columns(model: Any) -> list[Any]:
    return [column for column in model.__table__.columns if column.name != "id"]


class PrefetchedRecords:
    """A `RecordsSource` over the candidates matching `mcp_ids`, `emails` or `slack_user_ids`."""

    def __init__(
        self,
        session: Session,
        *,
        mcp_ids: Iterable[str] = (),
        emails: Iterable[str] = (),
        slack_user_ids: Iterable[str] = (),
    ) -> None:
        self._database = DatabaseRecords(session)
        self._mcp_asked = {m.strip() for m in mcp_ids if m}
        self._emails_asked = {e.strip().lower() for e in emails if e}
        self._slack_asked = {s for s in slack_user_ids if s}
        self._by_email: dict[str, set[str]] = defaultdict(set)
        self._by_slack: dict[str, set[str]] = defaultdict(set)
        self._records: dict[str, CandidateRecords] = {}
        self._load(session)

    def _load(self, session: Session) -> None:
        if self._emails_asked:
            for mcp_id, email in session.execute(
                select(CandidateEmail.mcp_id, CandidateEmail.email).where(
                    CandidateEmail.email.in_(self._emails_asked)
                )
            ):
                self._by_email[email].add(mcp_id)
        wanted = self._mcp_asked | {m for ids in self._by_email.values() for m in ids}
        conditions = []
        if wanted:
            conditions.append(Candidate.mcp_id.in_(wanted))
        if self._slack_asked:
            conditions.append(Candidate.slack_user_id.in_(self._slack_asked))
        if not conditions:
            return
        people = {
            row["mcp_id"]: dict(row)
            for row in session.execute(select(*_columns(Candidate)).where(or_(*conditions)))
            .mappings()
            .all()
        }
        for person in people.values():
            if person["slack_user_id"] in self._slack_asked:
                self._by_slack[person["slack_user_id"]].add(person["mcp_id"])
        if not people:
            return
        found = list(people)
        emails: dict[str, list[str]] = defaultdict(list)
        for mcp_id, email in session.execute(
            select(CandidateEmail.mcp_id, CandidateEmail.email)
            .where(CandidateEmail.mcp_id.in_(found))
            .order_by(CandidateEmail.id)
        ):
            emails[mcp_id].append(email)
        lists: dict[str, dict[str, list[Any]]] = {key: defaultdict(list) for key in _CHILDREN}
        for key, (model, schema) in _CHILDREN.items():
            table = model.__table__
            rows = session.execute(
                select(*_columns(model)).where(table.c.mcp_id.in_(found)).order_by(table.c.id)
            ).mappings()
            for row in rows:
                values = dict(row)
                if key == "vouchers":  # stored as "any" or "70-621;70-622"
                    values["scope"] = values["scope"].split(";")
                lists[key][values["mcp_id"]].append(schema.model_construct(**values))
        countries = {person["country"] for person in people.values()}
        restrictions: dict[str, list[RestrictionRow]] = defaultdict(list)
        for row in session.execute(
            select(*_columns(RegionRestriction))
            .where(RegionRestriction.country.in_(countries))
            .order_by(RegionRestriction.id)
        ).mappings():
            restrictions[row["country"]].append(RestrictionRow.model_construct(**row))
        for mcp_id, person in people.items():
            self._records[mcp_id] = CandidateRecords.model_construct(
                candidate=CandidateRow.model_construct(**person, emails=emails[mcp_id]),
                restrictions=restrictions[person["country"]],
                **{key: lists[key][mcp_id] for key in _CHILDREN},
            )

    def find(
        self,
        *,
        mcp_id: str | None = None,
        email: str | None = None,
        slack_user_id: str | None = None,
    ) -> list[str]:
        if mcp_id is not None:
            key = mcp_id.strip()
            if key in self._mcp_asked:
                return [key] if key in self._records else []
        elif email is not None:
            address = email.strip().lower()
            if address in self._emails_asked:
                return sorted(self._by_email.get(address, ()))
        elif slack_user_id is not None:
            if slack_user_id in self._slack_asked:
                return sorted(self._by_slack.get(slack_user_id, ()))
        else:
            return []
        return self._database.find(mcp_id=mcp_id, email=email, slack_user_id=slack_user_id)

    def get(self, key: str) -> CandidateRecords | None:
        mcp_id = mcp_id_of(self, key)
        if mcp_id is None:
            return None
        if mcp_id in self._records:
            return self._records[mcp_id]
        if mcp_id in self._mcp_asked:
            return None  # asked for, and nobody has it
        return self._database.get(mcp_id)
