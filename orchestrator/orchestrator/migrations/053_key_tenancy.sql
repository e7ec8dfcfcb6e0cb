-- 053: keys are tenants. Conversations and pipeline tasks record who owns them: the admin, one API key
-- (`api_key_id`), or the anonymous local caller that REQUIRE_AUTH=false lets through. Rows from before
-- belong to the admin, except pipeline tasks that already named the key that submitted them.
-- (Agents and interactive task results live in Redis and carry an `owner` field there.)

ALTER TABLE conversations ADD COLUMN IF NOT EXISTS owner_kind TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS api_key_id UUID REFERENCES api_keys (id);
ALTER TABLE conversations DROP CONSTRAINT IF EXISTS conversations_owner_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_owner_check
    CHECK (owner_kind IN ('admin', 'api_key', 'local') AND (owner_kind = 'api_key') = (api_key_id IS NOT NULL));
CREATE INDEX IF NOT EXISTS conversations_owner_recent_idx
    ON conversations (owner_kind, api_key_id, (COALESCE(last_message_at, created_at)) DESC);

ALTER TABLE pipeline_tasks ADD COLUMN IF NOT EXISTS owner_kind TEXT;
UPDATE pipeline_tasks SET owner_kind = CASE WHEN api_key_id IS NULL THEN 'admin' ELSE 'api_key' END
    WHERE owner_kind IS NULL;
ALTER TABLE pipeline_tasks ALTER COLUMN owner_kind SET DEFAULT 'admin';
ALTER TABLE pipeline_tasks ALTER COLUMN owner_kind SET NOT NULL;
ALTER TABLE pipeline_tasks DROP CONSTRAINT IF EXISTS pipeline_tasks_owner_check;
ALTER TABLE pipeline_tasks ADD CONSTRAINT pipeline_tasks_owner_check
    CHECK (owner_kind IN ('admin', 'api_key', 'local') AND (owner_kind = 'api_key') = (api_key_id IS NOT NULL));
CREATE INDEX IF NOT EXISTS pipeline_tasks_owner_created_idx ON pipeline_tasks (owner_kind, api_key_id, created_at DESC);
