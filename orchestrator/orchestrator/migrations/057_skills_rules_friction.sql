-- Skills: reusable instruction snippets a pod agent includes by name.
CREATE TABLE IF NOT EXISTS skills (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    content     TEXT NOT NULL CHECK (length(content) BETWEEN 1 AND 20000),
    enabled     BOOLEAN NOT NULL DEFAULT true,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Rules: plain-language constraints put in every pipeline agent's prompt; with a tool and/or argument
-- pattern they are also enforced: a matching tool call is refused before it runs.
CREATE TABLE IF NOT EXISTS rules (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name             TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    description      TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
    tool_pattern     TEXT CHECK (length(tool_pattern) <= 500),
    argument_pattern TEXT CHECK (length(argument_pattern) <= 1000),
    enabled          BOOLEAN NOT NULL DEFAULT true,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Friction log: "something went wrong here" from a dashboard page; "fix this" files a pipeline task.
CREATE TABLE IF NOT EXISTS friction_reports (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    text       TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 10000),
    page       TEXT NOT NULL DEFAULT '' CHECK (length(page) <= 2000),
    screenshot TEXT,
    status     TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fixing', 'fixed', 'dismissed')),
    task_id    UUID REFERENCES pipeline_tasks (id) ON DELETE SET NULL,
    owner      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS friction_reports_created_idx ON friction_reports (created_at DESC);

ALTER TABLE pod_agents ADD COLUMN IF NOT EXISTS skills JSONB NOT NULL DEFAULT '[]'::jsonb
    CHECK (jsonb_typeof(skills) = 'array');
