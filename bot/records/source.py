"""Where one candidate's records come from: the desk's database or a program's JSON HTTP API.

Both give the same `CandidateRecords`, so the checks run unchanged on either. `records_source`
picks one from `app.yaml` (`records.source`).

HTTP API: `GET {base_url}/candidates/{key}` where key is an MCP id, an email address or
`slack:<user id>`; 200 with one candidate's records (see `records_from_json`), 404 when unknown,
409 `{"matches": [mcp_id, ...]}` when the key fits several candidates.
"""

import functools
import re
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

import requests
from pydantic import ValidationError
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session
from urllib3.util.retry import Retry

from bot.config.app import RecordsHttp
from bot.config.settings import Settings
from bot.errors import UserError
from bot.records.lookup import CHILDREN, load
from bot.records.schemas import (
    MCP_ID,
    CandidateRecords,
    CandidateRow,
    RestrictionRow,
)
from bot.store.models.records import (
    Candidate,
    CandidateEmail,
)


class RecordsUnavailable(UserError):
    """The records could not be read (API down, timeout, bad reply): a fact, never a guess."""


class AmbiguousCandidate(UserError):
    """A key (usually an email address) belongs to several candidates."""

    def __init__(self, key: str, mcp_ids: list[str]) -> None:
        self.key = key
        self.mcp_ids = sorted(mcp_ids)
        super().__init__(f"{key} matches several candidates: {', '.join(self.mcp_ids)}")


class RecordsSource(Protocol):
    def get(self, key: str) -> CandidateRecords | None:
        """One candidate's records by MCP id or email address; None when unknown."""
        ...

    def find(
        self,
        *,
        mcp_id: str | None = None,
        email: str | None = None,
        slack_user_id: str | None = None,
    ) -> list[str]:
        """The MCP ids of the candidates matching one key (several means ambiguous)."""
        ...


def is_mcp_id(key: str) -> bool:
    return re.fullmatch(MCP_ID, key.strip()) is not None


def mcp_id_of(source: RecordsSource, key: str) -> str | None:
    """The MCP id a lookup key names: the key itself, or the one candidate who has that email
    address (None: nobody; several raise `AmbiguousCandidate`)."""
    key = key.strip()
    if is_mcp_id(key):
        return key
    found = source.find(email=key) if "@" in key else []
    if len(found) > 1:
        raise AmbiguousCandidate(key, found)
    return found[0] if found else None


class DatabaseRecords:
    """Records imported into the desk's database."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find(
        self,
        *,
        mcp_id: str | None = None,
        email: str | None = None,
        slack_user_id: str | None = None,
    ) -> list[str]:
        if mcp_id is not None:
            query = select(Candidate.mcp_id).where(Candidate.mcp_id == mcp_id.strip())
        elif email is not None:
            address = email.strip().lower()
            query = select(CandidateEmail.mcp_id).where(CandidateEmail.email == address)
        elif slack_user_id is not None:
            query = select(Candidate.mcp_id).where(Candidate.slack_user_id == slack_user_id)
        else:
            return []
        return sorted(set(self.session.scalars(query)))

    def get(self, key: str) -> CandidateRecords | None:
        mcp_id = mcp_id_of(self, key)
        return None if mcp_id is None else load(self.session, mcp_id)


# The API names its lists after the records files; the one that differs from the field's name.
_API_LIST = {"attempts": "exam_attempts"}


def records_from_json(data: Any) -> CandidateRecords:
    """Validate the HTTP API's document: `candidate` plus one list per records file, with the CSV
    files' fields (child rows may leave out `mcp_id`; restrictions are filtered by country)."""
    if not isinstance(data, dict) or not isinstance(data.get("candidate"), dict):
        raise ValueError("expected an object with a 'candidate' object")
    candidate = CandidateRow.model_validate(data["candidate"])
    lists: dict[str, Any] = {}
    for field, _table, row, _ in CHILDREN:
        if field == "restrictions":  # the country's, not the candidate's: filtered below
            continue
        lists[field] = [
            row.model_validate({"mcp_id": candidate.mcp_id, **item})
            for item in data.get(_API_LIST.get(field, field)) or []
        ]
    restrictions = [RestrictionRow.model_validate(r) for r in data.get("restrictions") or []]
    return CandidateRecords(
        candidate=candidate,
        restrictions=[r for r in restrictions if r.country == candidate.country],
        **lists,
    )


_ACCEPT_JSON = {"Accept": "application/json"}


class HttpRecords:
    """Records from a program's API, with a timeout, retries with back-off and a short cache."""

    RETRY_STATUSES = (500, 502, 503, 504)

    def __init__(
        self,
        config: RecordsHttp,
        *,
        backoff_factor: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
        http: requests.Session | None = None,
    ) -> None:
        self.base_url = config.base_url.rstrip("/")
        self.timeout = config.timeout_seconds
        self.cache_seconds = config.cache_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, CandidateRecords | None]] = {}
        self.http = http or requests.Session()
        retry = Retry(
            total=config.retries,
            connect=config.retries,
            read=config.retries,
            status=config.retries,
            backoff_factor=backoff_factor,
            status_forcelist=self.RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)

    def get(self, key: str) -> CandidateRecords | None:
        key = key.strip().lower() if "@" in key else key.strip()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        records = self._fetch(key)
        self._cache[key] = (self.clock() + self.cache_seconds, records)
        if records is not None:  # a lookup by email also warms the MCP id entry
            self._cache[records.mcp_id] = self._cache[key]
        return records

    def find(
        self,
        *,
        mcp_id: str | None = None,
        email: str | None = None,
        slack_user_id: str | None = None,
    ) -> list[str]:
        key = mcp_id or email or (f"slack:{slack_user_id}" if slack_user_id else None)
        if key is None:
            return []
        try:
            records = self.get(key)
        except AmbiguousCandidate as exc:
            return exc.mcp_ids
        return [records.mcp_id] if records else []

    def _fetch(self, key: str) -> CandidateRecords | None:
        url = f"{self.base_url}/candidates/{quote(key, safe='@:')}"
        try:
            response = self.http.get(url, timeout=self.timeout, headers=_ACCEPT_JSON)
        except requests.RequestException as exc:
            raise RecordsUnavailable(f"records API unreachable: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            matches = _json(response).get("matches") or []
            raise AmbiguousCandidate(key, [str(m) for m in matches])
        if response.status_code != 200:
            raise RecordsUnavailable(f"records API answered HTTP {response.status_code}")
        try:
            return records_from_json(_json(response))
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise RecordsUnavailable(f"records API sent an invalid document: {first}") from None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RecordsUnavailable("records API sent a reply that is not JSON") from None


@functools.lru_cache(maxsize=8)
def _shared_http_source(config: RecordsHttp) -> HttpRecords:
    """One client per configuration, so its cache outlives a single message."""
    return HttpRecords(config)


def records_source(settings: Settings, session: Session | None) -> RecordsSource:
    """The records source `app.yaml` chooses (`records.source`: database or http)."""
    config = settings.app.records
    if config.source == "http":
        assert config.http is not None  # validated by RecordsConfig
        return _shared_http_source(config.http)
    if session is None:
        raise ValueError("the database records source needs a session")
    return DatabaseRecords(session)
