"""Surge detection as the worker runs it: tickets opened through the real intake, the job run at
a moment, surges and their alerts in the database and the outbox."""

from collections import Counter
from datetime import timedelta

import numpy as np
from sqlalchemy import select

from bot.config.app import SurgesConfig
from bot.delivery.messages import POSTED
from bot.privacy.masking import mask_secret
from bot.store.models.outbox import OutboxItem
from bot.store.models.surges import SurgeTicket
from bot.surges.detect import describe
from bot.surges.grouping import agree
from bot.surges.rates import ScopeCounter, rate_surges
from bot.surges.readings import UNSURE, Reading
from tests.surges.conftest import START, surges, wave


def _alerts(db) -> list[OutboxItem]:
    return list(
        db.scalars(select(OutboxItem).where(OutboxItem.kind == "surge").order_by(OutboxItem.id))
    )


def test_a_wave_of_a_new_problem_becomes_one_surge_with_its_tickets_linked(take, detect_at, db):
    take(wave("w5")[:14])  # the transcript portal down: 14 messages in 82 minutes
    assert detect_at(30) == []  # three messages are no wave
    assert [what for _, what in detect_at(85)] == ["new"]
    [surge] = surges(db)
    assert surge.kind == "new" and surge.status == "open"
    linked = db.scalars(select(SurgeTicket.ticket_id).where(SurgeTicket.surge_id == surge.id))
    assert surge.count == len(list(linked)) >= 5
    phrasings = " ".join(surge.shared["phrasings"])
    assert "transcript" in phrasings.lower()
    assert "Mohammed Iqbal" not in phrasings and "2290451" not in phrasings  # scrubbed


def test_the_triage_lead_is_alerted_once_on_slack_and_by_mail(take, detect_at, db):
    take(wave("w5")[:14])
    detect_at(85)
    detect_at(90)  # nothing new: no second alert
    alerts = _alerts(db)
    assert Counter(a.channel for a in alerts) == {"slack": 1, "email": 1}
    slack = next(a for a in alerts if a.channel == "slack")
    assert slack.recipient == "U01MARIA"  # maria, the triage lead in app.yaml
    assert slack.payload["view"] == "surge" and slack.payload["count"] >= 5
    assert "R503" in slack.payload["text"] and "TR-503" not in slack.payload["text"]  # masked


def test_a_surge_that_grows_updates_its_posted_alert_instead_of_a_new_one(take, detect_at, db):
    rows = wave("w5")
    take(rows[:14])
    detect_at(85)
    first = next(a for a in _alerts(db) if a.channel == "slack")
    first.status, first.payload = "sent", {**first.payload, POSTED: {"channel": "D01", "ts": "9.1"}}
    db.commit()
    take(rows[14:28], tag="later")
    assert [what for _, what in detect_at(110)] == ["grew"]
    slack = [a for a in _alerts(db) if a.channel == "slack"]
    assert len(slack) == 2
    assert slack[1].payload["replaces"] == {"channel": "D01", "ts": "9.1"}
    assert slack[1].payload["grew_by"] > 0
    assert [a.channel for a in _alerts(db)].count("email") == 1  # mail had the first one only


def test_a_wave_in_many_languages_at_one_provider_surges_though_it_reads_little_alike(
    take, detect_at, db
):
    # Prometric centres failing to launch the betas, written in English, Spanish, Portuguese
    # and French, with and without the error text: too unlike to cluster, but all at Prometric.
    take(wave("w6")[:12])
    assert [what for _, what in detect_at(60)] == ["new"]
    [surge] = surges(db)
    assert surge.count >= 5 and "prometric" in surge.shared["providers"]


def test_everyday_traffic_makes_no_surge(take, detect_at, db):
    decoys = [row for row in wave("decoy")]
    take([{**row, "minute": n * 4} for n, row in enumerate(decoys)], tag="d")
    for minutes in range(30, 130, 30):
        assert detect_at(minutes) == []
    assert surges(db) == [] and _alerts(db) == []


def test_an_ignored_surge_is_not_alerted_again(take, detect_at, db):
    rows = wave("w4")
    take(rows[:14])
    detect_at(110)
    [surge] = surges(db)
    surge.status = "ignored"
    db.commit()
    take(rows[14:26], tag="later")
    detect_at(130)
    assert len(surges(db)) == 1
    assert [a.channel for a in _alerts(db)].count("slack") == 1


def _reading(n: int, issue: str, exam: str, minutes: int) -> Reading:
    at = START + timedelta(minutes=minutes)
    return Reading.of(n, at, "text", issue, 0.95, {"exams": [exam]})


CONFIG = SurgesConfig()


def test_a_known_issue_far_above_its_rate_for_one_exam_surges():
    window = [_reading(n, "region-restricted", "71-631", n * 10) for n in range(8)]
    history = Counter({("region-restricted", None, None): 14 * 12})  # one per 2 h for 14 days
    found = rate_surges(
        window, history, history_span=timedelta(days=14), window_span=timedelta(hours=2),
        min_count=6, rate_factor=3, poisson_tail=0.001,
    )  # fmt: skip
    [surge] = found
    assert surge.scope == ("region-restricted", "exams", "71-631")  # the exam never came before
    assert len(surge.members) == 8 and surge.tail < 0.001


def test_a_known_issue_at_its_usual_rate_does_not_surge():
    window = [_reading(n, "voucher-missing", f"71-6{20 + n}", n * 10) for n in range(8)]
    # six per 2 h, every day, each using the word the window's use
    history = Counter({("voucher-missing", None, None): 14 * 12 * 6,
                       ("voucher-missing", "word", "text"): 14 * 12 * 6})  # fmt: skip
    found = rate_surges(
        window, history, history_span=timedelta(days=14), window_span=timedelta(hours=2),
        min_count=6, rate_factor=3, poisson_tail=0.001,
    )  # fmt: skip
    assert found == []


def test_a_desk_with_no_history_uses_the_minimum_count_alone():
    window = [_reading(n, "voucher-missing", "71-621", n * 10) for n in range(6)]
    kwargs = {"history_span": timedelta(0), "window_span": timedelta(hours=2),
              "rate_factor": 3, "poisson_tail": 0.001}  # fmt: skip
    assert rate_surges(window[:5], Counter(), min_count=6, **kwargs) == []
    assert len(rate_surges(window, Counter(), min_count=6, **kwargs)) == 1


def test_the_history_is_counted_per_scope_as_read_and_as_unsure_mail():
    history = [_reading(n, "region-restricted", f"71-63{n % 2}", n) for n in range(6)]
    history.append(Reading.of(6, START, "thanks", "not-a-request", 0.99, {}))
    counter = ScopeCounter()
    for _ in range(2):  # numbered once, counted again: the same counts
        counts = counter.count(history)
        assert counts[("region-restricted", None, None)] == 6
        assert counts[("region-restricted", "exams", "71-631")] == 3
        assert counts[("region-restricted", "word", "text")] == 6
        assert counts[("not-a-request", None, None)] == 0  # never a surge: not counted
        assert counts[("voucher-missing", None, None)] == 0  # never seen
    unsure = counter.count(history[:4], as_issue=UNSURE)
    assert (
        unsure[(UNSURE, "exams", "71-630")] == 2 and unsure[("region-restricted", None, None)] == 0
    )


def test_a_group_about_one_exam_leaves_out_a_member_naming_only_another():
    # Four cancellations of beta 71-643 and a question about a live exam's retirement date.
    group = [_reading(n, "exam-not-available", "71-643", n) for n in range(4)]
    group.append(_reading(4, "exam-not-available", "70-620", 5))
    group.append(Reading.of(5, START, "was it retired?", None, 0.5, {}))  # names none: stays
    assert [group[i].key for i in agree(group)] == [0, 1, 2, 3, 5]
    # A wave at several betas is about none of them: every member stays.
    several = [_reading(n, "exam-not-available", f"71-64{n % 2}", n) for n in range(5)]
    assert len(agree(several)) == 5


REVERSED = [
    "my name is reversed on the booking",
    "turned away, first and last name reversed",
    "the centre says my name is reversed",
    "booking shows my names reversed, exam refused",
    "name order reversed on the appointment",
    "they sent me home: reversed name",
    "reversed first/last name at check-in",
    "help, name reversed, cannot sit the exam",
]


def _said(n: int, text: str, exam: str) -> Reading:
    at = START + timedelta(minutes=n * 10)
    return Reading.of(n, at, text, "region-restricted", 0.95, {"exams": [exam]})


def _word_surges(window: list[Reading], history: Counter) -> list:
    """Two hours against fourteen days, with the configured tails."""
    return rate_surges(
        window, history, history_span=timedelta(days=14), window_span=timedelta(hours=2),
        min_count=6, rate_factor=3, poisson_tail=0.001, word_tail=1e-7,
    )  # fmt: skip


def test_a_rare_word_far_above_its_rate_surges_across_exams_and_phrasings():
    # Eight writers, eight exams, eight phrasings, one issue at its usual rate: only the word
    # "reversed" (never used before) tells the wave.
    window = [_said(n, text, f"71-6{30 + n}") for n, text in enumerate(REVERSED)]
    history = Counter({("region-restricted", None, None): 14 * 12 * 6})  # six per 2 h
    found = _word_surges(window, history)
    [surge] = found
    assert surge.scope[:2] == ("region-restricted", "word") and "reversed" in surge.scope[2]
    assert len(surge.members) == 8


def test_a_word_common_in_the_issue_never_surges_however_often_it_comes():
    # "booking" is in 12% of this issue's mail: a busy hour raises it with everything else.
    window = [_said(n, f"question {n} about my booking", f"71-6{30 + n}") for n in range(12)]
    history = Counter({("region-restricted", None, None): 1008,
                       ("region-restricted", "word", "booking"): 121})  # fmt: skip
    found = _word_surges(window, history)
    assert all(surge.scope[1] != "word" or surge.scope[2] != "booking" for surge in found)


def test_the_worker_runs_detection_as_a_timed_job(take, sessions, settings, db):
    from bot.ops.worker import run_due_jobs
    from bot.surges.job import surge_jobs

    take(wave("w5")[:14])
    done = run_due_jobs(
        sessions, settings.app, now=START + timedelta(minutes=85),
        extra_jobs=surge_jobs(settings),
    )  # fmt: skip
    assert done["surges"] == "1 new surges, 0 grew"
    assert len(surges(db)) == 1


def test_a_look_with_no_new_ticket_since_the_last_does_nothing(take, sessions, settings, db):
    from bot.ops.worker import run_due_jobs
    from bot.surges.job import surge_jobs

    jobs = surge_jobs(settings)  # one worker process: it remembers its last look
    take(wave("w5")[:14])
    first = run_due_jobs(sessions, settings.app, now=START + timedelta(minutes=85), extra_jobs=jobs)
    assert first["surges"] == "1 new surges, 0 grew"
    again = run_due_jobs(sessions, settings.app, now=START + timedelta(minutes=90), extra_jobs=jobs)
    assert again["surges"] == "no new tickets" and len(surges(db)) == 1


def test_a_candidates_name_on_record_is_scrubbed_from_what_the_lead_sees(
    records, sessions, runtime, db
):
    from bot.intake.flow import take_in
    from bot.surges.detect import phrasing
    from bot.surges.job import load_ticket_readings
    from bot.types import InboundMessage

    text = "Hi, this is Priya Raman. The transcript page says temporarily unavailable."
    with sessions() as session, session.begin():
        outcome = take_in(
            session, runtime,
            InboundMessage(source="email", external_id="<priya@x>", text=text,
                           sender_email="priya.raman@example.in", received_at=START),
            now=START,
        )  # fmt: skip
    [reading] = load_ticket_readings(db, [outcome.tickets[0].ticket_id])
    assert reading.names == ("Priya Raman",)
    shown = phrasing(reading)
    assert "Priya" not in shown and "Raman" not in shown and "transcript page" in shown


VERIFICATION = [
    "the sign-in verification code is rejected",
    "el código de verificación no funciona",
    "o código de verificação não é aceito",
    "le code de vérification est refusé",
    "der Verifizierungscode wird abgelehnt",
    "verifica kar raha hoon par login nahi hota",
    "verifying my account fails every time",
]


def test_a_wave_in_several_languages_surges_on_the_stem_its_words_share():
    # Seven writers, five languages: no whole word is shared by six, but every long word that
    # starts "verif" is cut to the same stem.
    window = [_said(n, text, f"71-6{30 + n}") for n, text in enumerate(VERIFICATION)]
    history = Counter({("region-restricted", None, None): 14 * 12 * 6})  # six per 2 h
    found = _word_surges(window, history)
    [surge] = found
    assert surge.scope == ("region-restricted", "word", "verif*")
    assert len(surge.members) == 7


def test_a_code_many_candidates_paste_is_never_kept_as_the_word_that_surged():
    # Six candidates paste one campaign's code: its parts are a word far above its rate.
    code = "K7Q2M-9XW4P-RT3Z8-LL5QA-2BNVX"
    members = [
        Reading.of(n, START + timedelta(minutes=n), f"code {mask_secret(code)} rejected",
                   "promo-code-rejected", 0.9, {}, codes=[code])
        for n in range(6)
    ]  # fmt: skip
    shared = describe(members, np.eye(6), scope=("promo-code-rejected", "word", "9xw4p"))
    assert shared["scope"]["value"] == "****"
    assert "9XW4P" not in str(shared).upper()
