"""What a running process builds once and hands to every message: the settings, the knowledge
base and its matcher (indexed once per process, not per message), and the records source."""

import logging
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.matching import registry
from bot.matching.knowledge import KnowledgeBase, load_knowledge
from bot.matching.matcher import Matcher
from bot.records.source import RecordsSource, records_source

log = logging.getLogger(__name__)
# A smoke reading on load: a model whose arrays do not fit each other fails here, not on every
# message.
_PROBE = "My voucher for 71-621 never arrived."


@dataclass
class Runtime:
    settings: Settings
    _deployed: tuple[int, Matcher] | None = field(default=None, init=False, repr=False)

    @cached_property
    def knowledge(self) -> KnowledgeBase:
        return load_knowledge(self.settings.knowledge_dir)

    @cached_property
    def matcher(self) -> Matcher:
        """The matcher with the model shipped in the package."""
        return Matcher(self.knowledge)

    def matcher_for(self, session: Session) -> Matcher:
        """The matcher with the newest passing model of this deployment's database (one small
        query per call, so a retrained model is picked up at once), else the shipped one. A
        stored model that does not load or read is refused once, with a warning, and the shipped
        one classifies: a bad row must not stop every intake."""
        model_id = registry.newest_passing_id(session)
        if model_id is None:
            return self.matcher
        cached = self._deployed
        if cached is None or cached[0] != model_id:
            cached = self._deployed = (model_id, self._load(session, model_id))
        return cached[1]

    def _load(self, session: Session, model_id: int) -> Matcher:
        try:
            _version, model = registry.load_model(session, model_id)
            matcher = Matcher(self.knowledge, model)
            matcher.classify(_PROBE)
        except Exception as exc:  # any fault of the stored data, whatever it is
            log.warning(
                "stored matcher model %d refused (%s); the shipped model classifies",
                model_id, type(exc).__name__,
            )  # fmt: skip
            return self.matcher
        return matcher

    @cached_property
    def issue_titles(self) -> dict[str, str]:
        return {issue_id: issue.title for issue_id, issue in self.knowledge.issues.items()}

    def records(self, session: Session) -> RecordsSource:
        return records_source(self.settings, session)
