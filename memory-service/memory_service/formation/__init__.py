"""Memory formation: the ingestion queue, extraction, sources, feedback, consolidation and the profile."""

from dataclasses import dataclass

from memory_service.formation.consolidation import Consolidator
from memory_service.formation.learning import LearningService
from memory_service.formation.profile import ProfileService
from memory_service.formation.queue import IngestQueue
from memory_service.formation.service import FormationService
from memory_service.formation.worker import IngestWorker


@dataclass(frozen=True)
class Formation:
    """The formation objects the routes use, built once by the lifespan."""

    queue: IngestQueue
    service: FormationService
    worker: IngestWorker
    learning: LearningService
    consolidator: Consolidator
    profiles: ProfileService
