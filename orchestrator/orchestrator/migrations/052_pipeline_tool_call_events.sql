-- 052: a stage's tool calls get their own timeline kind, so the dashboard and API clients can pick them out
-- from free-form notes.

ALTER TABLE pipeline_task_events DROP CONSTRAINT IF EXISTS pipeline_task_events_kind_check;
ALTER TABLE pipeline_task_events ADD CONSTRAINT pipeline_task_events_kind_check
    CHECK (kind IN ('transition', 'stage_started', 'stage_completed', 'stage_retry', 'stage_failed', 'policy',
                    'note', 'tool_call'));
