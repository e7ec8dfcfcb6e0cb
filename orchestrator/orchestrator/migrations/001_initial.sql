-- 001: extensions, API keys and platform configuration.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS api_keys (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash       TEXT NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    key_prefix     TEXT NOT NULL CHECK (key_prefix LIKE 'sk-nova-%'),
    rate_limit_rpm INTEGER NOT NULL DEFAULT 60 CHECK (rate_limit_rpm > 0),
    metadata       JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at   TIMESTAMPTZ,
    expires_at     TIMESTAMPTZ,
    revoked_at     TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS api_keys_active_idx ON api_keys (created_at DESC) WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS platform_config (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    key         TEXT NOT NULL UNIQUE CHECK (key ~ '^[a-z][a-z0-9_.]{0,127}$'),
    value       JSONB NOT NULL,
    description TEXT,
    is_secret   BOOLEAN NOT NULL DEFAULT false,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
