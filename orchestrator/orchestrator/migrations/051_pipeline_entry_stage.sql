-- 051: where a task with an empty checkpoint starts, fixed at submission from its pod snapshot and tags.
-- A worker claims such a task with one UPDATE, without reading it first; a task with a checkpoint (resumed,
-- clarified, approved) is read and its first unfinished stage worked out as before. NULL on older rows.

ALTER TABLE pipeline_tasks
    ADD COLUMN IF NOT EXISTS entry_status TEXT
        CHECK (entry_status IS NULL OR entry_status IN (
            'context_running', 'task_running', 'guardrail_running', 'review_running', 'completing')),
    ADD COLUMN IF NOT EXISTS entry_stage TEXT;
