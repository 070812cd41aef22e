"""What a running process builds once and hands to every message: the settings, the knowledge
base and its matcher (indexed once per process, not per message), and the records source."""

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.matching.knowledge import KnowledgeBase, load_knowledge
from bot.matching.matcher import Matcher
from bot.records.source import RecordsSource, records_source


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def knowledge(self) -> KnowledgeBase:
        return load_knowledge(self.settings.knowledge_dir)

    @cached_property
    def matcher(self) -> Matcher:
        return Matcher(self.knowledge)

    @cached_property
    def issue_titles(self) -> dict[str, str]:
        return {issue_id: issue.title for issue_id, issue in self.knowledge.issues.items()}

    def records(self, session: Session) -> RecordsSource:
        return records_source(self.settings, session)
