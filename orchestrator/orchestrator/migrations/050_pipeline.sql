-- 050: the agent pipeline: pods and their agents, pipeline tasks, their timeline, findings, reviews, artifacts.

CREATE TABLE IF NOT EXISTS pods (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    description           TEXT NOT NULL DEFAULT '',
    enabled               BOOLEAN NOT NULL DEFAULT true,
    is_default            BOOLEAN NOT NULL DEFAULT false,
    default_model         TEXT,
    max_cost_usd          NUMERIC(12, 6) CHECK (max_cost_usd IS NULL OR max_cost_usd >= 0),
    max_execution_seconds INTEGER CHECK (max_execution_seconds IS NULL OR max_execution_seconds > 0),
    require_human_review  BOOLEAN NOT NULL DEFAULT false,
    escalation_threshold  TEXT NOT NULL DEFAULT 'high'
                          CHECK (escalation_threshold IN ('low', 'medium', 'high', 'critical')),
    routing_keywords      JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(routing_keywords) = 'array'),
    routing_regex         TEXT,
    priority              INTEGER NOT NULL DEFAULT 0,
    fallback_pod_id       UUID REFERENCES pods (id) ON DELETE SET NULL,
    sandbox_tier          TEXT NOT NULL DEFAULT 'workspace'
                          CHECK (sandbox_tier IN ('isolated', 'workspace', 'nova', 'host')),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (fallback_pod_id IS DISTINCT FROM id)
);
-- At most one system default pod.
CREATE UNIQUE INDEX IF NOT EXISTS pods_single_default_idx ON pods (is_default) WHERE is_default;

CREATE TABLE IF NOT EXISTS pod_agents (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    pod_id          UUID NOT NULL REFERENCES pods (id) ON DELETE CASCADE,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role            TEXT NOT NULL CHECK (role IN ('context', 'task', 'guardrail', 'code_review', 'decision',
                                                  'documentation', 'diagramming', 'security_review',
                                                  'memory_extraction', 'passthrough')),
    enabled         BOOLEAN NOT NULL DEFAULT true,
    model           TEXT,
    temperature     REAL NOT NULL DEFAULT 0.3 CHECK (temperature BETWEEN 0 AND 2),
    max_tokens      INTEGER NOT NULL DEFAULT 4096 CHECK (max_tokens > 0),
    timeout_seconds REAL NOT NULL DEFAULT 120 CHECK (timeout_seconds > 0),
    max_retries     INTEGER NOT NULL DEFAULT 1 CHECK (max_retries >= 0),
    system_prompt   TEXT,
    allowed_tools   JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(allowed_tools) = 'array'),
    on_failure      TEXT NOT NULL DEFAULT 'abort' CHECK (on_failure IN ('abort', 'skip', 'escalate')),
    run_condition   JSONB NOT NULL DEFAULT '{"type": "always"}'::jsonb,
    output_schema   JSONB,
    artifact_type   TEXT,
    position        INTEGER NOT NULL DEFAULT 0 CHECK (position >= 0),
    UNIQUE (pod_id, name)
);
CREATE INDEX IF NOT EXISTS pod_agents_pod_idx ON pod_agents (pod_id, position);

-- Presets are seeded once: a preset the operator deleted is not brought back by the next start.
CREATE TABLE IF NOT EXISTS pod_presets_seeded (
    name      TEXT PRIMARY KEY,
    seeded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS pipeline_tasks (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    goal                    TEXT NOT NULL CHECK (length(goal) > 0),
    status                  TEXT NOT NULL CHECK (status IN (
                                'submitted', 'queued', 'context_running', 'task_running', 'guardrail_running',
                                'review_running', 'pending_human_review', 'completing', 'complete', 'failed',
                                'cancelled', 'clarification_needed')),
    pod_id                  UUID REFERENCES pods (id) ON DELETE SET NULL,
    -- The pod as it was at submission: a task resumed after a crash runs the pipeline it started with.
    pod                     JSONB NOT NULL,
    tags                    JSONB NOT NULL DEFAULT '[]'::jsonb,
    metadata                JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Stage outputs by agent name, plus `_`-prefixed pipeline bookkeeping (flags, loop counters, answers).
    checkpoint              JSONB NOT NULL DEFAULT '{}'::jsonb,
    current_stage           TEXT,
    output                  TEXT,
    error                   TEXT,
    clarification_questions JSONB NOT NULL DEFAULT '[]'::jsonb,
    cost_usd                NUMERIC(14, 8) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    -- `attempts` counts claims and doubles as the fencing token of the worker holding the task.
    attempts                INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    retries                 INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),
    max_retries             INTEGER NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    worker_id               TEXT,
    heartbeat_at            TIMESTAMPTZ,
    api_key_id              UUID,
    dead_letter_reason      TEXT,
    dead_lettered_at        TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    queued_at               TIMESTAMPTZ,
    started_at              TIMESTAMPTZ,
    first_started_at        TIMESTAMPTZ,
    completed_at            TIMESTAMPTZ,
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS pipeline_tasks_created_idx ON pipeline_tasks (created_at DESC);
CREATE INDEX IF NOT EXISTS pipeline_tasks_status_idx ON pipeline_tasks (status, created_at);
CREATE INDEX IF NOT EXISTS pipeline_tasks_pod_idx ON pipeline_tasks (pod_id, created_at DESC);
CREATE INDEX IF NOT EXISTS pipeline_tasks_running_idx ON pipeline_tasks (heartbeat_at)
    WHERE status IN ('context_running', 'task_running', 'guardrail_running', 'review_running', 'completing');
CREATE INDEX IF NOT EXISTS pipeline_tasks_dead_letter_idx ON pipeline_tasks (dead_lettered_at DESC)
    WHERE dead_lettered_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS pipeline_task_events (
    id          BIGSERIAL PRIMARY KEY,
    task_id     UUID NOT NULL REFERENCES pipeline_tasks (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('transition', 'stage_started', 'stage_completed', 'stage_retry',
                                              'stage_failed', 'policy', 'note')),
    from_status TEXT,
    to_status   TEXT,
    stage       TEXT,
    detail      TEXT,
    worker_id   TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS pipeline_task_events_task_idx ON pipeline_task_events (task_id, id);

-- Findings, reviews and artifacts are written in the transaction that checkpoints their stage, keyed by
-- (task, stage, iteration, ordinal): a stage re-run after a crash cannot add a second copy.
CREATE TABLE IF NOT EXISTS pipeline_findings (
    task_id     UUID NOT NULL REFERENCES pipeline_tasks (id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,
    iteration   INTEGER NOT NULL DEFAULT 0,
    ordinal     INTEGER NOT NULL,
    type        TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    description TEXT NOT NULL,
    evidence    TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, stage, iteration, ordinal)
);

CREATE TABLE IF NOT EXISTS pipeline_reviews (
    task_id    UUID NOT NULL REFERENCES pipeline_tasks (id) ON DELETE CASCADE,
    stage      TEXT NOT NULL,
    iteration  INTEGER NOT NULL DEFAULT 0,
    verdict    TEXT NOT NULL CHECK (verdict IN ('pass', 'needs_refactor', 'reject')),
    summary    TEXT NOT NULL DEFAULT '',
    issues     JSONB NOT NULL DEFAULT '[]'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, stage, iteration)
);

CREATE TABLE IF NOT EXISTS pipeline_artifacts (
    task_id       UUID NOT NULL REFERENCES pipeline_tasks (id) ON DELETE CASCADE,
    stage         TEXT NOT NULL,
    iteration     INTEGER NOT NULL DEFAULT 0,
    name          TEXT NOT NULL,
    artifact_type TEXT NOT NULL,
    content       TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, stage, iteration, name)
);
