-- 054: goals, what Nova pursues on its own. cortex plans each attempt (an iteration), submits it as a
-- pipeline task, and records outcome and cost; reflections keep what a failed approach taught; comments
-- are the person's side of the conversation. Owners follow 053: the admin, one API key, or `local`.

CREATE TABLE IF NOT EXISTS goals (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    title                  TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description            TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    priority               SMALLINT NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    status                 TEXT NOT NULL DEFAULT 'active'
                           CHECK (status IN ('active', 'paused', 'completed', 'failed', 'cancelled')),
    progress               DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    max_iterations         INTEGER CHECK (max_iterations > 0),
    max_cost_usd           NUMERIC(14, 6) CHECK (max_cost_usd > 0),
    check_interval_seconds INTEGER NOT NULL DEFAULT 3600 CHECK (check_interval_seconds >= 60),
    schedule_cron          TEXT CHECK (schedule_cron IS NULL OR length(schedule_cron) BETWEEN 1 AND 100),
    schedule_next_at       TIMESTAMPTZ,
    max_completions        INTEGER CHECK (max_completions > 0),
    completion_count       INTEGER NOT NULL DEFAULT 0 CHECK (completion_count >= 0),
    iteration_count        INTEGER NOT NULL DEFAULT 0 CHECK (iteration_count >= 0),
    current_plan           JSONB,
    cost_usd               NUMERIC(14, 6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    maturation_status      TEXT CHECK (maturation_status IN
                           ('triage', 'scoping', 'speccing', 'review', 'building', 'verifying', 'done')),
    spec                   TEXT,
    spec_feedback          TEXT,
    created_by             TEXT NOT NULL CHECK (created_by IN ('admin', 'api_key', 'local', 'cortex', 'chat')),
    owner_kind             TEXT NOT NULL DEFAULT 'admin',
    api_key_id             UUID REFERENCES api_keys (id),
    metadata               JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    last_checked_at        TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT goals_owner_check
        CHECK (owner_kind IN ('admin', 'api_key', 'local') AND (owner_kind = 'api_key') = (api_key_id IS NOT NULL)),
    -- A schedule always knows when it fires next; the scheduler relies on it.
    CONSTRAINT goals_schedule_check CHECK ((schedule_cron IS NULL) = (schedule_next_at IS NULL))
);
CREATE INDEX IF NOT EXISTS goals_owner_idx ON goals (owner_kind, api_key_id, created_at DESC);
CREATE INDEX IF NOT EXISTS goals_status_priority_idx ON goals (status, priority, last_checked_at);
CREATE INDEX IF NOT EXISTS goals_schedule_due_idx ON goals (schedule_next_at) WHERE status = 'active';

CREATE TABLE IF NOT EXISTS goal_iterations (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    goal_id          UUID NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    iteration        INTEGER NOT NULL CHECK (iteration > 0),
    plan             TEXT NOT NULL DEFAULT '',
    pipeline_task_id UUID,
    outcome          TEXT NOT NULL DEFAULT 'pending'
                     CHECK (outcome IN ('pending', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    cost_usd         NUMERIC(14, 6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    duration_ms      BIGINT CHECK (duration_ms >= 0),
    summary          TEXT,
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ,
    -- One row per attempt: a cycle interrupted after recording its attempt finds it again on retry.
    UNIQUE (goal_id, iteration)
);

CREATE TABLE IF NOT EXISTS goal_reflections (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    goal_id              UUID NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    iteration_id         UUID REFERENCES goal_iterations (id) ON DELETE SET NULL,
    approach_fingerprint TEXT NOT NULL CHECK (approach_fingerprint ~ '^[0-9a-f]{1,64}$'),
    outcome              TEXT NOT NULL
                         CHECK (outcome IN ('pending', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    lesson               TEXT NOT NULL DEFAULT '',
    created_at           TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS goal_reflections_goal_idx ON goal_reflections (goal_id, created_at DESC);

CREATE TABLE IF NOT EXISTS goal_comments (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    goal_id    UUID NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    author     TEXT NOT NULL CHECK (length(author) BETWEEN 1 AND 100),
    body       TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS goal_comments_goal_idx ON goal_comments (goal_id, created_at);

-- A goal's page lists the pipeline tasks its iterations submitted.
ALTER TABLE pipeline_tasks ADD COLUMN IF NOT EXISTS goal_id UUID REFERENCES goals (id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS pipeline_tasks_goal_idx ON pipeline_tasks (goal_id, created_at DESC) WHERE goal_id IS NOT NULL;
