-- 002: dashboard conversations, MCP tool servers and persisted usage events.

CREATE TABLE IF NOT EXISTS conversations (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- What clients send back in X-Session-Id; a new conversation uses its own id as text.
    session_id      TEXT NOT NULL UNIQUE CHECK (length(session_id) BETWEEN 1 AND 128),
    agent_id        TEXT,
    title           TEXT CHECK (title IS NULL OR length(title) BETWEEN 1 AND 200),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_message_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS conversations_recent_idx
    ON conversations (COALESCE(last_message_at, created_at) DESC);

CREATE TABLE IF NOT EXISTS messages (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content         TEXT NOT NULL,
    model           TEXT,
    metadata        JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS messages_conversation_idx ON messages (conversation_id, created_at);

CREATE TABLE IF NOT EXISTS mcp_servers (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Part of every tool name an agent sees (mcp__<name>__<tool>), hence the narrow alphabet.
    name        TEXT NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    description TEXT NOT NULL DEFAULT '',
    transport   TEXT NOT NULL CHECK (transport IN ('stdio', 'http')),
    command     TEXT,
    args        JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(args) = 'array'),
    env         JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(env) = 'object'),
    url         TEXT,
    enabled     BOOLEAN NOT NULL DEFAULT true,
    metadata    JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (transport <> 'stdio' OR command IS NOT NULL),
    CHECK (transport <> 'http' OR url IS NOT NULL)
);

-- One row per gateway usage record; the record's own id is the key, so replaying the stream is harmless.
CREATE TABLE IF NOT EXISTS usage_events (
    id            UUID PRIMARY KEY,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'completion' CHECK (kind IN ('completion', 'embedding')),
    input_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens INTEGER NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cost_usd      NUMERIC(14, 8) CHECK (cost_usd IS NULL OR cost_usd >= 0),
    latency_ms    INTEGER NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
    ttft_ms       INTEGER CHECK (ttft_ms IS NULL OR ttft_ms >= 0),
    cache_hit     BOOLEAN NOT NULL DEFAULT false,
    agent_id      TEXT,
    task_id       TEXT,
    -- No foreign key: a record may name a key deleted since, and must still be kept.
    api_key_id    UUID,
    created_at    TIMESTAMPTZ NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS usage_events_created_idx ON usage_events (created_at DESC);
CREATE INDEX IF NOT EXISTS usage_events_model_idx ON usage_events (model, created_at);
