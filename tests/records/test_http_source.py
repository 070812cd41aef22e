"""Records behind a program's HTTP API: same records, retries on 5xx, a short cache, and a clear
"records unavailable" outcome when the API is down."""

import socket

import pytest
import requests
import responses

from bot.config.app import RecordsHttp
from bot.intake.decisions import decide
from bot.records.identify import identify
from bot.records.source import AmbiguousCandidate, HttpRecords, RecordsUnavailable, records_source

BASE = "http://records.test/api"
DOCUMENT = {
    "candidate": {"mcp_id": "1234567", "name": "Priya Raman", "emails": ["priya@example.com"],
                  "country": "India", "region": "India", "slack_user_id": "U0PRIYA"},
    "exam_attempts": [{"exam": "71-621", "provider": "prometric", "taken_on": "2026-03-02",
                       "beta": True, "result": "pass"}],
    "registrations": [],
    "invitations": [{"campaign": "wave-1", "exam": "71-621", "sent_at": "2026-01-05T09:00:00Z",
                     "promo_code": "PROMO-9XYZ", "status": "sent"}],
    "vouchers": [{"code": "ABCD-EFGH-7Q2K", "issued_at": "2026-04-02", "for_exam": "71-621",
                  "scope": "any", "redeemed_at": None}],
    "certifications": [],
    "restrictions": [{"exam": "71-630", "country": "India", "since": "2026-02-01"},
                     {"exam": "71-630", "country": "France", "since": "2026-02-01"}],
}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def source(retries: int = 2, clock: Clock | None = None) -> HttpRecords:
    config = RecordsHttp(base_url=BASE + "/", timeout_seconds=1, retries=retries, cache_seconds=60)
    return HttpRecords(config, backoff_factor=0, clock=clock or Clock())


@responses.activate
def test_the_api_document_becomes_the_same_records() -> None:
    responses.get(f"{BASE}/candidates/1234567", json=DOCUMENT)
    records = source().get("1234567")
    assert records is not None
    assert records.attempts[0].exam == "71-621" and records.vouchers[0].scope == ["any"]
    assert [r.country for r in records.restrictions] == ["India"]
    assert records.invitations[0].sent_at is not None and records.invitations[0].mcp_id == "1234567"


@responses.activate
def test_a_server_error_is_retried_then_answered() -> None:
    responses.get(f"{BASE}/candidates/1234567", status=503)
    responses.get(f"{BASE}/candidates/1234567", status=502)
    responses.get(f"{BASE}/candidates/1234567", json=DOCUMENT)
    assert source(retries=2).get("1234567") is not None
    assert len(responses.calls) == 3


@responses.activate
def test_an_api_that_stays_down_is_records_unavailable() -> None:
    responses.get(f"{BASE}/candidates/1234567", status=500)
    with pytest.raises(RecordsUnavailable, match="HTTP 500"):
        source(retries=2).get("1234567")
    assert len(responses.calls) == 3


@responses.activate
def test_a_timeout_or_bad_document_is_records_unavailable() -> None:
    responses.get(f"{BASE}/candidates/1", body=requests.ConnectTimeout("slow"))
    responses.get(f"{BASE}/candidates/2", body="<html>maintenance</html>")
    responses.get(f"{BASE}/candidates/3", json={"candidate": {"mcp_id": "x"}})
    for key, reason in (("1", "unreachable"), ("2", "not JSON"), ("3", "invalid document")):
        with pytest.raises(RecordsUnavailable, match=reason):
            source().get(key)


def test_a_refused_connection_is_retried_and_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = RecordsHttp(base_url=f"http://127.0.0.1:{port}", timeout_seconds=1, retries=1)
    with pytest.raises(RecordsUnavailable, match="unreachable"):
        HttpRecords(config, backoff_factor=0).get("1234567")


@responses.activate
def test_answers_are_cached_for_a_short_while() -> None:
    clock = Clock()
    responses.get(f"{BASE}/candidates/priya@example.com", json=DOCUMENT)
    responses.get(f"{BASE}/candidates/1234567", json=DOCUMENT)
    records = source(clock=clock)
    records.get("Priya@Example.com")
    records.get("priya@example.com")
    records.get("1234567")  # warmed by the lookup by address
    assert len(responses.calls) == 1
    clock.now += 61
    records.get("1234567")
    assert len(responses.calls) == 2


@responses.activate
def test_unknown_and_ambiguous_keys() -> None:
    responses.get(f"{BASE}/candidates/nobody@example.com", status=404)
    responses.get(f"{BASE}/candidates/shared@example.com", status=409,
                  json={"matches": ["7654321", "1234567"]})  # fmt: skip
    records = source()
    assert records.get("nobody@example.com") is None
    with pytest.raises(AmbiguousCandidate) as caught:
        records.get("shared@example.com")
    assert caught.value.mcp_ids == ["1234567", "7654321"]
    who = identify(records, sender_email="shared@example.com")
    assert who.candidate is None and who.ambiguous == ["1234567", "7654321"]


@responses.activate
def test_an_api_outage_becomes_an_escalation_never_an_answer() -> None:
    responses.get(f"{BASE}/candidates/priya@example.com", status=503)
    who = identify(source(retries=0), sender_email="priya@example.com")
    assert who.candidate is None and who.unavailable
    decision = decide(
        issue_id="voucher-missing", check=None, identification=who,
        answer_template="You are owed {{ facts.owed }}.", entities={}, records_unavailable=False,
    )  # fmt: skip
    assert (decision.action, decision.answer) == ("escalate", None)
    assert decision.reason.startswith("records unavailable")


def test_app_yaml_chooses_the_source(settings, db) -> None:  # type: ignore[no-untyped-def]
    from bot.records.source import DatabaseRecords

    assert isinstance(records_source(settings, db), DatabaseRecords)
    http = settings.app.model_copy(
        update={"records": settings.app.records.model_copy(
            update={"source": "http", "http": RecordsHttp(base_url=BASE)})}
    )  # fmt: skip
    settings.app = http
    chosen = records_source(settings, None)
    assert isinstance(chosen, HttpRecords) and chosen is records_source(settings, None)
