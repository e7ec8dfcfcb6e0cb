"""memory-service settings, read from the environment and `.env`."""

from functools import lru_cache

from pydantic import Field

from memory_service.memories.search import KeywordQuery, KeywordRank, ScoreNormalization, SearchTuning
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

    # Retrieval. Defaults chosen on SciFact's training queries by bench/retrieval_eval.py; held-out
    # Cranfield only confirmed them. nDCG@10 on SciFact test / Cranfield: this default 0.734 / 0.562,
    # dense alone 0.645 / 0.506, BM25 alone 0.687 / 0.518, the previous RRF + ts_rank 0.692 / 0.530.
    # On SciFact train z-score fusion beat the best min-max, RRF and rank-based settings.
    fusion_default: FusionMethod = FusionMethod.WEIGHTED
    # Share of the vector side in weighted and RRF fusion; a request's `vector_weight` overrides it.
    fusion_vector_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    fusion_score_normalization: ScoreNormalization = ScoreNormalization.Z_SCORE
    # For requests that ask for RRF: k=5 beat the customary 60 at every weight and depth tried.
    rrf_k: int = Field(default=5, ge=1)
    # How deep each arm is read before fusion (at least the request's limit). BM25 scores every match
    # anyway, so a deeper keyword list costs nothing; z-scores over 50 cosines fitted best.
    dense_candidates: int = Field(default=50, ge=10, le=1000)
    keyword_candidates: int = Field(default=200, ge=10, le=1000)
    # OR of the query's lexemes: AND (plainto/websearch) scored 0.07 nDCG@10 on SciFact, since all of
    # a claim's words are rarely in one abstract.
    keyword_query: KeywordQuery = KeywordQuery.ANY_TERM
    keyword_rank: KeywordRank = KeywordRank.BM25
    # Anserini's BEIR values; within 0.003 nDCG@10 of the other (k1, b) pairs tried on SciFact.
    bm25_k1: float = Field(default=0.9, ge=0.0, le=10.0)
    bm25_b: float = Field(default=0.4, ge=0.0, le=1.0)
    # ts_rank's normalisation bit mask (0 none, 1 log length, 2 length, 8 unique words, 16 log unique words).
    keyword_rank_normalization: int = Field(default=1, ge=0, le=63)
    # How often BM25's document frequencies are checked against the memories (rebuilt only if changed).
    keyword_statistics_interval_seconds: float = Field(default=60.0, gt=0)
    # Every connection starts with 100 (db/engine.py SESSION_EF_SEARCH); another value costs each search a
    # transaction to set it.
    hnsw_ef_search: int = Field(default=100, ge=10, le=1000)
    hnsw_m: int = Field(default=16, ge=4, le=100)
    hnsw_ef_construction: int = Field(default=64, ge=16, le=1000)

    # ACT-R base-level decay of facts: effective = base * days_since_access^-decay_exponent.
    decay_exponent: float = Field(default=0.5, ge=0.0, le=5.0)

    working_memory_ttl_seconds: int = Field(default=3600, ge=1)
    expiry_interval_seconds: float = Field(default=300.0, gt=0)
    # Off for collections that must stay as stored (bench/retrieval_eval.py): each start rescans everything.
    compaction_enabled: bool = True
    compaction_interval_seconds: float = Field(default=3600.0, gt=0)
    compaction_similarity: float = Field(default=0.95, gt=0.0, le=1.0)
    compaction_batch_size: int = Field(default=500, ge=1)

    # Memory formation (formation/): the ingestion queue in Redis DB 0 and its consumers.
    ingest_enabled: bool = True
    ingest_concurrency: int = Field(default=2, ge=1, le=32)
    # Items a consumer takes and forms together (one embedding call, one transaction): per-item round
    # trips were most of the pipeline's own cost (bench/ingestion_throughput.py).
    ingest_batch_size: int = Field(default=32, ge=1, le=500)
    # Several memory-service processes may consume the queue: each has its own processing list and a
    # heartbeat; a consumer silent this long is presumed dead and its list is re-queued by the others.
    ingest_consumer_ttl_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)
    # A stable id (e.g. the pod's name) lets a restarted process take back its own list at once;
    # None: a fresh id per process, whose leftovers are re-queued after the TTL.
    ingest_consumer_id: str | None = Field(default=None, min_length=1, max_length=100)
    # A full queue answers 429: producers back off instead of Redis growing without bound.
    ingest_queue_max_length: int = Field(default=10_000, ge=1)
    # Attempts before an item goes to the dead letters (counted when taken, so crashes count too).
    ingest_max_attempts: int = Field(default=5, ge=1, le=100)
    # Extraction through llm-gateway `/complete`; None lets the gateway choose.
    extraction_model: str | None = None
    extraction_timeout_seconds: float = Field(default=120.0, gt=0)
    extraction_max_input_chars: int = Field(default=12_000, ge=500, le=200_000)
    # Extraction calls in flight per process (a batch's items are extracted concurrently): a local model
    # answers one at a time, and a batch of queued calls would outlive the timeout.
    extraction_concurrency: int = Field(default=4, ge=1, le=64)
    # Cosine at or above which a formed memory reinforces the owner's existing one instead of being added.
    # MiniLM puts paraphrases of one statement around 0.85-0.95 and related but different ones below 0.8.
    formation_dedup_similarity: float = Field(default=0.9, gt=0.0, le=1.0)
    # A contradicting fact replaces the old value unless its confidence is this much lower.
    formation_supersede_margin: float = Field(default=0.3, ge=0.0, le=1.0)
    # The replaced value's confidence, as kept in the fact's history, is multiplied by this.
    formation_superseded_confidence_factor: float = Field(default=0.5, ge=0.0, le=1.0)

    # Learning from feedback: the share of the distance to the bound one good (bad) turn moves importance.
    feedback_step: float = Field(default=0.1, gt=0.0, le=1.0)
    importance_floor: float = Field(default=0.05, ge=0.0, le=1.0)
    importance_ceiling: float = Field(default=1.0, ge=0.0, le=1.0)
    # Weight of importance in search ranking: score * (1 - w + 2 * w * importance), neutral at importance 0.5.
    # Chosen by bench/retrieval_eval.py after simulated feedback; nDCG@10 at w = 0 / 0.05 / 0.1 / 0.2 / 0.3:
    # SciFact test (feedback from its training queries) 0.7335 / 0.7428 / 0.7484 / 0.7513 / 0.7604, the best
    # at 0.3; held-out Cranfield half (feedback from the other half) 0.5481 / 0.5481 / 0.5509 / 0.5538 / 0.5528,
    # not lowered. The simulation's feedback is exact (qrels); real turns' is noisier, which a smaller w tempers.
    importance_weight: float = Field(default=0.3, ge=0.0, le=1.0)

    # Consolidation (formation/consolidation.py): checked every interval; runs when ingestion has been
    # idle this many minutes after forming something, and once at the nightly UTC hour (None: off).
    consolidation_enabled: bool = True
    consolidation_check_interval_seconds: float = Field(default=60.0, gt=0)
    consolidation_idle_minutes: int | None = Field(default=30, ge=1)
    consolidation_nightly_hour: int | None = Field(default=3, ge=0, le=23)
    consolidation_cluster_similarity: float = Field(default=0.7, gt=0.0, le=1.0)
    consolidation_cluster_min_size: int = Field(default=3, ge=2, le=100)
    decay_unused_days: float = Field(default=30.0, gt=0)
    decay_unused_factor: float = Field(default=0.9, gt=0.0, le=1.0)
    contradiction_review_days: float = Field(default=14.0, gt=0)

    context_candidates: int = Field(default=40, ge=1, le=200)
    context_dedup_similarity: float = Field(default=0.92, gt=0.0, le=1.0)

    def search_tuning(self) -> SearchTuning:
        return SearchTuning(
            vector_weight=self.fusion_vector_weight,
            rrf_k=self.rrf_k,
            score_normalization=self.fusion_score_normalization,
            dense_candidates=self.dense_candidates,
            keyword_candidates=self.keyword_candidates,
            keyword_query=self.keyword_query,
            keyword_rank=self.keyword_rank,
            rank_normalization=self.keyword_rank_normalization,
            bm25_k1=self.bm25_k1,
            bm25_b=self.bm25_b,
            ef_search=self.hnsw_ef_search,
            decay_exponent=self.decay_exponent,
            importance_weight=self.importance_weight,
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
