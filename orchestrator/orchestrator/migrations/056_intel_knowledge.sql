-- 056: what Nova reads for you. intel: feeds, the items they bring (one row per distinct content hash, so a
-- repost is stored once) and recommendations built from them. knowledge: sources to crawl, one row per
-- crawl with its progress, and the credential vault (AES-256-GCM envelope: only ciphertext is stored).

CREATE TABLE IF NOT EXISTS intel_feeds (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                   TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    url                    TEXT NOT NULL UNIQUE CHECK (url ~ '^https?://'),
    type                   TEXT NOT NULL CHECK (type IN
                           ('rss', 'atom', 'reddit_json', 'page', 'github_trending', 'github_releases')),
    category               TEXT NOT NULL DEFAULT 'other',
    check_interval_seconds INTEGER NOT NULL DEFAULT 3600 CHECK (check_interval_seconds >= 300),
    enabled                BOOLEAN NOT NULL DEFAULT true,
    last_checked_at        TIMESTAMPTZ,
    last_success_at        TIMESTAMPTZ,
    error_count            INTEGER NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    last_error             TEXT,
    etag                   TEXT,
    last_modified          TEXT,
    last_content_hash      TEXT,
    check_requested        BOOLEAN NOT NULL DEFAULT false,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS intel_items (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    feed_id          UUID REFERENCES intel_feeds (id) ON DELETE SET NULL,
    title            TEXT NOT NULL,
    url              TEXT,
    body             TEXT NOT NULL DEFAULT '',
    author           TEXT,
    published_at     TIMESTAMPTZ,
    content_hash     TEXT NOT NULL UNIQUE,
    digested_at      TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS intel_items_feed_idx ON intel_items (feed_id, created_at DESC);
CREATE INDEX IF NOT EXISTS intel_items_undigested_idx ON intel_items (created_at) WHERE digested_at IS NULL;

CREATE TABLE IF NOT EXISTS intel_recommendations (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    theme       TEXT NOT NULL,
    title       TEXT NOT NULL,
    summary     TEXT NOT NULL DEFAULT '',
    relevance   DOUBLE PRECISION NOT NULL DEFAULT 0.5 CHECK (relevance BETWEEN 0 AND 1),
    status      TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'approved', 'dismissed')),
    item_ids    UUID[] NOT NULL DEFAULT '{}',
    goal_id     UUID REFERENCES goals (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS intel_recommendations_status_idx ON intel_recommendations (status, created_at DESC);

CREATE TABLE IF NOT EXISTS intel_recommendation_comments (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    recommendation_id UUID NOT NULL REFERENCES intel_recommendations (id) ON DELETE CASCADE,
    author            TEXT NOT NULL,
    body              TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS credentials (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                    TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    platform                TEXT NOT NULL CHECK (platform IN ('github')),
    -- wrapped_key = AES-GCM(master key, data key); ciphertext = AES-GCM(data key, secret); 12-byte nonces.
    key_nonce               BYTEA NOT NULL,
    wrapped_key             BYTEA NOT NULL,
    nonce                   BYTEA NOT NULL,
    ciphertext              BYTEA NOT NULL,
    masked                  TEXT NOT NULL,
    valid                   BOOLEAN,
    validation_message      TEXT,
    validated_at            TIMESTAMPTZ,
    validation_requested_at TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS knowledge_sources (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                TEXT NOT NULL CHECK (kind IN ('site', 'github', 'text')),
    url                 TEXT CHECK (url IS NULL OR url ~ '^https?://'),
    text                TEXT,
    credential_id       UUID REFERENCES credentials (id) ON DELETE SET NULL,
    crawl               JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(crawl) = 'object'),
    enabled             BOOLEAN NOT NULL DEFAULT true,
    status              TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('idle', 'queued', 'crawling', 'error')),
    last_crawl_at       TIMESTAMPTZ,
    last_error          TEXT,
    error_count         INTEGER NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT knowledge_sources_content_check CHECK ((kind = 'text') = (text IS NOT NULL))
);

CREATE TABLE IF NOT EXISTS knowledge_crawls (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    source_id    UUID NOT NULL REFERENCES knowledge_sources (id) ON DELETE CASCADE,
    status       TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete', 'partial', 'failed')),
    fetched      INTEGER NOT NULL DEFAULT 0,
    queued       INTEGER NOT NULL DEFAULT 0,
    ingested     INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    skipped      JSONB NOT NULL DEFAULT '{}'::jsonb,
    error        TEXT,
    log          JSONB NOT NULL DEFAULT '[]'::jsonb,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS knowledge_crawls_source_idx ON knowledge_crawls (source_id, started_at DESC);
