-- Memories belong to their writer: "admin", "key:<api key uuid>" or "local" (an anonymous local caller).
-- Rows written before owners existed were written through the admin-wide API, so they become the admin's.
-- `shared` memories are recalled for every owner; only the admin marks a memory shared.
ALTER TABLE memories
    ADD COLUMN owner TEXT DEFAULT 'admin' NOT NULL,
    ADD COLUMN shared BOOLEAN DEFAULT false NOT NULL,
    ADD CONSTRAINT memories_owner_known
        CHECK (owner IN ('admin', 'local') OR owner ~ '^key:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');

-- One owner's fact never supersedes another's: the fact key gains the owner.
DROP INDEX memories_fact_key_unique;
CREATE UNIQUE INDEX memories_fact_key_unique ON memories (owner, project_id, category, key)
    NULLS NOT DISTINCT WHERE tier = 'semantic' AND key IS NOT NULL;

CREATE INDEX memories_owner_created ON memories (owner, created_at);
CREATE INDEX memories_shared ON memories (created_at) WHERE shared;
