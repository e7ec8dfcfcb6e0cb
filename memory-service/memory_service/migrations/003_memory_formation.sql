-- Memory formation (issue 15): where memories come from, how much they help, and what formed them.

-- Every ingested text is a source; the same text from the same owner is one source (content hash).
CREATE TABLE sources (
    id UUID PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT 'admin',
    kind TEXT NOT NULL,
    uri TEXT,
    title TEXT,
    author TEXT,
    content_hash TEXT NOT NULL,
    trust DOUBLE PRECISION NOT NULL,
    fetched_at TIMESTAMPTZ,
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT sources_kind_known
        CHECK (kind IN ('chat', 'task', 'feed', 'crawl', 'document', 'api', 'correction', 'consolidation')),
    CONSTRAINT sources_trust_range CHECK (trust >= 0 AND trust <= 1),
    CONSTRAINT sources_owner_known
        CHECK (owner IN ('admin', 'local') OR owner ~ '^key:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    CONSTRAINT sources_owner_content_unique UNIQUE (owner, content_hash)
);
CREATE INDEX sources_ingested ON sources (ingested_at);

-- Importance: 0.5 is neutral; feedback moves it within the bounds the service enforces.
ALTER TABLE memories
    ADD COLUMN source_id UUID REFERENCES sources (id) ON DELETE SET NULL,
    ADD COLUMN importance DOUBLE PRECISION DEFAULT 0.5 NOT NULL,
    ADD CONSTRAINT memories_importance_range CHECK (importance >= 0 AND importance <= 1);
CREATE INDEX memories_source ON memories (source_id) WHERE source_id IS NOT NULL;

-- One row per formed queue item, written in the same transaction as its memories: a re-delivery after a
-- crash finds it and writes nothing twice.
CREATE TABLE ingestions (
    item_id UUID PRIMARY KEY,
    source_id UUID REFERENCES sources (id) ON DELETE SET NULL,
    unextracted BOOLEAN NOT NULL DEFAULT false,
    result JSONB NOT NULL DEFAULT '{}'::jsonb,
    formed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ingestions_formed ON ingestions (formed_at);

-- A fact a newer statement contradicted, kept for review.
CREATE TABLE contradictions (
    id UUID PRIMARY KEY,
    memory_id UUID NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    previous_content TEXT NOT NULL,
    new_content TEXT NOT NULL,
    new_confidence DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL,
    source_id UUID REFERENCES sources (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at TIMESTAMPTZ,
    CONSTRAINT contradictions_state_known CHECK (state IN ('superseded', 'pending', 'resolved', 'rejected'))
);
CREATE INDEX contradictions_created ON contradictions (created_at);
CREATE INDEX contradictions_pending ON contradictions (created_at) WHERE state = 'pending';

-- Each context assembly: what it surfaced, and (after feedback) what was used and how the turn ended.
CREATE TABLE retrievals (
    id UUID PRIMARY KEY,
    owner TEXT,
    agent_id TEXT,
    query TEXT NOT NULL,
    surfaced UUID[] NOT NULL,
    used UUID[],
    outcome TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    feedback_at TIMESTAMPTZ,
    CONSTRAINT retrievals_outcome_known CHECK (outcome IS NULL OR outcome IN ('success', 'neutral', 'failure'))
);
CREATE INDEX retrievals_created ON retrievals (created_at);

-- A semantic memory consolidation wrote as the summary of a cluster of episodes, and those episodes.
CREATE TABLE memory_links (
    summary_id UUID NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    member_id UUID NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    PRIMARY KEY (summary_id, member_id)
);
CREATE INDEX memory_links_member ON memory_links (member_id);

CREATE TABLE consolidation_runs (
    id UUID PRIMARY KEY,
    trigger TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    merged INTEGER NOT NULL DEFAULT 0,
    summarised_clusters INTEGER NOT NULL DEFAULT 0,
    summaries_created INTEGER NOT NULL DEFAULT 0,
    decayed INTEGER NOT NULL DEFAULT 0,
    contradictions_resolved INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    CONSTRAINT consolidation_runs_trigger_known CHECK (trigger IN ('manual', 'idle', 'nightly'))
);
CREATE INDEX consolidation_runs_started ON consolidation_runs (started_at);
