-- memory-service's schema as `Base.metadata.create_all` built it before versioned migrations existed.
--
-- Every statement is IF NOT EXISTS on purpose: on an installation that create_all set up, this file is
-- how the database is adopted. It adds only what an older create_all had not made yet and leaves the
-- existing tables and their rows alone; from then on the ledger (memory_schema_migrations) says 001 is done.
-- The per-model HNSW indexes are not here: memory-service creates one for each (model, dimension) it meets.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS memories (
    id UUID NOT NULL,
    tier TEXT NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    agent_id TEXT,
    project_id TEXT,
    category TEXT,
    key TEXT,
    confidence FLOAT DEFAULT 1.0 NOT NULL,
    metadata JSONB DEFAULT '{}'::jsonb NOT NULL,
    embedding VECTOR,
    embedding_model TEXT,
    embedding_dim INTEGER,
    embedded_at TIMESTAMP WITH TIME ZONE,
    search_tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', content)) STORED NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id),
    CONSTRAINT memories_tier_known CHECK (tier IN ('semantic', 'procedural', 'episodic', 'working')),
    CONSTRAINT memories_content_not_empty CHECK (length(content) > 0),
    CONSTRAINT memories_confidence_range CHECK (confidence >= 0 AND confidence <= 1),
    CONSTRAINT memories_only_working_expires CHECK (expires_at IS NULL OR tier = 'working'),
    CONSTRAINT memories_embedding_described CHECK (
        (embedding IS NULL) = (embedding_model IS NULL) AND (embedding IS NULL) = (embedding_dim IS NULL)
        AND (embedding IS NULL OR vector_dims(embedding) = embedding_dim)
    )
);

CREATE INDEX IF NOT EXISTS memories_search_tsv_gin ON memories USING gin (search_tsv);
-- A fact is a semantic memory with a key; NULLS NOT DISTINCT so a missing project is one scope too.
CREATE UNIQUE INDEX IF NOT EXISTS memories_fact_key_unique ON memories (project_id, category, key)
    NULLS NOT DISTINCT WHERE tier = 'semantic' AND key IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_tier_created ON memories (tier, created_at);
CREATE INDEX IF NOT EXISTS memories_agent_created ON memories (agent_id, created_at);
CREATE INDEX IF NOT EXISTS memories_updated ON memories (updated_at);
CREATE INDEX IF NOT EXISTS memories_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_unembedded ON memories (created_at) WHERE embedding IS NULL;

CREATE TABLE IF NOT EXISTS memory_access (
    memory_id UUID NOT NULL,
    access_count INTEGER NOT NULL,
    last_accessed_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (memory_id),
    FOREIGN KEY (memory_id) REFERENCES memories (id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS fact_revisions (
    id UUID NOT NULL,
    memory_id UUID NOT NULL,
    content TEXT NOT NULL,
    confidence FLOAT NOT NULL,
    replaced_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (memory_id) REFERENCES memories (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS fact_revisions_memory ON fact_revisions (memory_id, replaced_at);

CREATE TABLE IF NOT EXISTS memory_merges (
    id UUID NOT NULL,
    kept_id UUID NOT NULL,
    merged_id UUID NOT NULL,
    content TEXT NOT NULL,
    metadata JSONB NOT NULL,
    confidence FLOAT NOT NULL,
    similarity FLOAT NOT NULL,
    merged_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (kept_id) REFERENCES memories (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS memory_merges_kept ON memory_merges (kept_id);

CREATE TABLE IF NOT EXISTS embedding_cache (
    content_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    embedding VECTOR NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (content_hash, model, dim)
);

CREATE TABLE IF NOT EXISTS embedding_target (
    id SMALLINT NOT NULL,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    changed_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT embedding_target_singleton CHECK (id = 1)
);

CREATE TABLE IF NOT EXISTS keyword_lexemes (
    lexeme TEXT NOT NULL,
    documents INTEGER NOT NULL,
    PRIMARY KEY (lexeme),
    CONSTRAINT keyword_lexemes_documents_positive CHECK (documents > 0)
);

CREATE TABLE IF NOT EXISTS keyword_corpus (
    id SMALLINT NOT NULL,
    documents INTEGER NOT NULL,
    average_length FLOAT NOT NULL,
    memories_count INTEGER NOT NULL,
    memories_updated_at TIMESTAMP WITH TIME ZONE,
    refreshed_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT keyword_corpus_singleton CHECK (id = 1)
);

CREATE TABLE IF NOT EXISTS reembed_jobs (
    id UUID NOT NULL,
    state TEXT NOT NULL,
    total INTEGER NOT NULL,
    done INTEGER NOT NULL,
    target_model TEXT NOT NULL,
    target_dim INTEGER NOT NULL,
    error TEXT,
    started_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    finished_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id),
    CONSTRAINT reembed_jobs_state_known CHECK (state IN ('running', 'done', 'failed'))
);
CREATE INDEX IF NOT EXISTS reembed_jobs_started ON reembed_jobs (started_at);
