"""The knowledge base loads, covers the catalogue, and bad files fail naming file and field."""

import shutil
from pathlib import Path

import pytest

from bot.errors import UserError
from bot.matching.knowledge import KnowledgeError, load_knowledge
from tests.conftest import KNOWLEDGE_DIR

CATALOGUE = {
    "registration-program-error", "promo-code-rejected", "retake-registration-blocked",
    "exam-not-available", "region-restricted", "invitation-not-received",
    "unexpected-registration", "voucher-missing", "voucher-scope", "results-pending",
    "transcript-missing-certification", "registration-code-request", "not-a-request",
}  # fmt: skip


def test_every_catalogue_id_has_exactly_one_file(knowledge):
    assert set(knowledge.issues) == CATALOGUE


def test_teams_and_priorities_follow_the_design(knowledge):
    assert {i.id for i in knowledge.issues.values() if i.team == "vouchers"} == {
        "voucher-missing",
        "voucher-scope",
    }
    assert knowledge.issue("unexpected-registration").priority == "high"
    assert knowledge.issue("not-a-request").check is None


def test_exam_catalogue_has_betas_with_live_counterparts(knowledge):
    beta = knowledge.exams["71-621"]
    assert beta.beta and beta.live_counterpart == "70-621"
    assert beta.results_weeks_min == 6 and beta.results_weeks_max == 8
    assert len(knowledge.exams) >= 15


def test_answers_render_with_missing_facts(knowledge):
    for issue_id in knowledge.issues:
        assert knowledge.render_answer(issue_id)  # no facts, no exam, no candidate


def test_voucher_answer_quotes_the_owed_count(knowledge):
    text = knowledge.render_answer(
        "voucher-missing",
        facts={"owed": 2, "taken": 3, "issued": 1},
        exam=knowledge.exams["71-621"],
    )
    assert "owed 2" in text and "3 beta exams" in text


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "problem"),
    [
        ("voucher-missing.yaml", "{% else %}", "{% elsif %}", "answer", "template syntax error"),
        ("voucher-scope.yaml", "check: voucher_scope", "check: scope", "check", "Input should be"),
        ("voucher-scope.yaml", "team: vouchers", "team: sales", "team", "Input should be"),
        ("results-pending.yaml", "id: results-pending", "id: results", "id", "file name"),
        ("not-a-request.yaml", '  - "no"', "  - no", "negative.3", "valid string"),
        ("exam-not-available.yaml", "priority: normal", "priority: normal\nowner: bob", "owner",
         "Extra inputs"),
    ],
)  # fmt: skip
def test_a_bad_issue_file_names_the_file_and_the_field(kdir, file, old, new, field, problem):
    _edit(kdir / file, old, new)
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(kdir)
    message = str(caught.value)
    assert message.startswith(f"{kdir / file}: {field}: ")
    assert problem in message
    assert isinstance(caught.value, UserError)


def test_a_missing_required_field_is_named(kdir):
    path = kdir / "voucher-scope.yaml"
    path.write_text("\n".join(ln for ln in path.read_text().splitlines() if ln != "team: vouchers"))
    with pytest.raises(KnowledgeError, match=r"voucher-scope.yaml: team: Field required"):
        load_knowledge(kdir)


def test_invalid_yaml_is_reported_with_the_file(kdir):
    (kdir / "voucher-scope.yaml").write_text("id: [unclosed\n")
    with pytest.raises(KnowledgeError, match=r"voucher-scope.yaml:2: not valid YAML"):
        load_knowledge(kdir)


def test_exam_counterpart_must_exist(kdir):
    _edit(kdir / "exams.yaml", 'live_counterpart: "70-621"', 'live_counterpart: "70-999"')
    with pytest.raises(KnowledgeError, match=r"exams.yaml: exams.1.live_counterpart: 70-999"):
        load_knowledge(kdir)


def test_adding_an_issue_is_adding_a_file(kdir):
    (kdir / "exam-centre-closed.yaml").write_text(
        "id: exam-centre-closed\ntitle: Test centre closed\ndescription: The centre is shut.\n"
        "examples: [the test centre was closed, centre shut on exam day, nobody at the centre]\n"
        "team: exams\nanswer: Sorry about that.\n"
    )
    assert "exam-centre-closed" in load_knowledge(kdir).issues


def test_missing_directory_is_a_user_error(tmp_path):
    with pytest.raises(KnowledgeError, match="knowledge directory not found"):
        load_knowledge(tmp_path / "nope")


def test_duplicate_key_in_a_knowledge_file_is_one_line(tmp_path):
    kb_dir = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, kb_dir)
    path = kb_dir / "voucher-scope.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nteam: vouchers\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"voucher-scope.yaml:\d+: team: duplicate key"):
        load_knowledge(kb_dir)
