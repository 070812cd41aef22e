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
from bot.matching.model import ModelFormatError
from bot.records.source import RecordsSource, records_source

_log = logging.getLogger(__name__)


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
        query per call, so a retrained model is picked up at once), else the shipped one."""
        model_id = registry.newest_passing_id(session)
        if model_id is None:
            return self.matcher
        cached = self._deployed
        if cached is None or cached[0] != model_id:
            try:
                _version, model = registry.load_model(session, model_id)
                cached = (model_id, Matcher(self.knowledge, model))
            except ModelFormatError:
                # stored by an older release with other features: the shipped model serves
                # until `triage model train` stores one of this release
                _log.warning("matcher model %s has an older format; using the shipped model",
                             model_id)  # fmt: skip
                cached = (model_id, self.matcher)
            self._deployed = cached
        return cached[1]

    @cached_property
    def issue_titles(self) -> dict[str, str]:
        return {issue_id: issue.title for issue_id, issue in self.knowledge.issues.items()}

    def records(self, session: Session) -> RecordsSource:
        return records_source(self.settings, session)
