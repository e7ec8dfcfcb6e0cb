"""memory-service settings, read from the environment and `.env`."""

from functools import lru_cache

from pydantic import Field

from nova_common.config import DatabaseSettings
from nova_contracts.memory import FusionMethod


class Settings(DatabaseSettings):
    service_name: str = "memory-service"
    port: int = 8002

    # Embeddings. `embedding_model=None` takes the gateway's default; the model and dimension the gateway
    # reports are stored with every vector, and a change of either starts a re-embed job.
    embedding_model: str | None = None
    embedding_dimensions: int | None = Field(default=None, ge=1, le=8192)
    embedding_timeout_seconds: float = Field(default=120.0, gt=0)
    embedding_batch_size: int = Field(default=128, ge=1, le=2048)
    embedding_cache_ttl_seconds: int = Field(default=86_400, ge=60)
    embedding_backlog_interval_seconds: float = Field(default=10.0, gt=0)
    # After a failed call the gateway is left alone this long: stores are deferred at once, not after retries.
    embedding_retry_after_seconds: float = Field(default=5.0, ge=0)

    # Retrieval. RRF by default: rank-based, so it needs no calibration between cosine and ts_rank, and on
    # held-out Cranfield it beat dense and keyword alone (bench/retrieval_eval.py). The SciFact tuning run
    # of the weight and the ts_rank normalisation is still to finish; update these from its output.
    fusion_default: FusionMethod = FusionMethod.RRF
    fusion_vector_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    rrf_k: int = Field(default=60, ge=1)
    # ts_rank's normalisation bit mask (0 none, 1 log length, 2 length, 8 unique words, 16 log unique words).
    keyword_rank_normalization: int = Field(default=1, ge=0, le=63)
    search_candidates: int = Field(default=100, ge=10, le=1000)
    hnsw_ef_search: int = Field(default=100, ge=10, le=1000)
    hnsw_m: int = Field(default=16, ge=4, le=100)
    hnsw_ef_construction: int = Field(default=64, ge=16, le=1000)

    # ACT-R base-level decay of facts: effective = base * days_since_access^-decay_exponent.
    decay_exponent: float = Field(default=0.5, ge=0.0, le=5.0)

    working_memory_ttl_seconds: int = Field(default=3600, ge=1)
    expiry_interval_seconds: float = Field(default=300.0, gt=0)
    compaction_interval_seconds: float = Field(default=3600.0, gt=0)
    compaction_similarity: float = Field(default=0.95, gt=0.0, le=1.0)
    compaction_batch_size: int = Field(default=500, ge=1)

    context_candidates: int = Field(default=40, ge=1, le=200)
    context_dedup_similarity: float = Field(default=0.92, gt=0.0, le=1.0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
