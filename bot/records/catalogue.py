"""The exam catalogue as the checks need it: opening dates and beta results windows.

The catalogue lives in `knowledge/exams.yaml`; `bot.matching.knowledge` loads the
same file.
The checks accept any mapping of code to an object with these attributes, so either loader works.
"""

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.store.models.records import CatalogueExam

EXAMS_FILE = "exams.yaml"


class ExamLike(Protocol):
    code: str
    title: str
    beta: bool
    opens_on: date | None
    results_weeks_min: int | None
    results_weeks_max: int | None


class ExamInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    title: str
    beta: bool
    live_counterpart: str | None = None
    opens_on: date | None = None
    results_weeks_min: int | None = None
    results_weeks_max: int | None = None


Catalogue = Mapping[str, ExamLike]


def load_catalogue(path: Path) -> dict[str, ExamInfo]:
    """Read `exams.yaml` (a file, or the knowledge directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / EXAMS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        exams = [ExamInfo.model_validate(item) for item in data["exams"]]
    except FileNotFoundError:
        raise UserError(f"{path}: exam catalogue not found") from None
    except (yaml.YAMLError, KeyError, TypeError, ValidationError) as exc:
        raise UserError(f"{path}: not a valid exam catalogue: {str(exc).splitlines()[0]}") from None
    return {exam.code: exam for exam in exams}


def exam_facts(exam: ExamLike | None) -> dict[str, Any] | None:
    """The JSON-safe view of a catalogue entry that answer templates see as `exam`."""
    if exam is None:
        return None
    return {
        "code": exam.code,
        "title": exam.title,
        "beta": exam.beta,
        "opens_on": exam.opens_on.isoformat() if exam.opens_on else None,
        "results_weeks_min": exam.results_weeks_min,
        "results_weeks_max": exam.results_weeks_max,
    }


def sync_catalogue(session: Session, catalogue: Mapping[str, ExamInfo]) -> int:
    """Replace the catalogue table's rows with the file's; returns the number of exams."""
    session.execute(delete(CatalogueExam))
    if catalogue:
        session.execute(insert(CatalogueExam), [exam.model_dump() for exam in catalogue.values()])
    return len(catalogue)
