WITH moved AS (
        UPDATE pipeline_tasks t SET status = w.to_status, updated_at = clock_timestamp(), checkpoint = CASE WHEN w.checkpoint_patch IS NULL THEN t.checkpoint ELSE t.checkpoint || w.checkpoint_patch::jsonb END, cost_usd = t.cost_usd + w.add_cost, retries = CASE WHEN (w.from_status = 'failed' AND w.to_status <> w.from_status) THEN 0 ELSE t.retries + w.add_retries END, dead_lettered_at = CASE WHEN w.dead_lettered THEN clock_timestamp() WHEN (w.from_status = 'failed' AND w.to_status <> w.from_status) THEN NULL ELSE t.dead_lettered_at END, queued_at = CASE WHEN w.to_status <> w.from_status AND w.to_status = ANY('{queued}'::text[]) THEN clock_timestamp() ELSE t.queued_at END, completed_at = CASE WHEN w.to_status <> w.from_status AND w.to_status = ANY('{cancelled,complete,failed}'::text[]) THEN clock_timestamp() WHEN (w.from_status = 'failed' AND w.to_status <> w.from_status) THEN NULL ELSE t.completed_at END, worker_id = CASE WHEN w.to_status <> w.from_status AND w.to_status = ANY('{cancelled,clarification_needed,complete,failed,pending_human_review,queued}'::text[]) THEN NULL ELSE t.worker_id END, heartbeat_at = CASE WHEN w.to_status <> w.from_status AND w.to_status = ANY('{cancelled,clarification_needed,complete,failed,pending_human_review,queued}'::text[]) THEN NULL ELSE t.heartbeat_at END, current_stage = CASE WHEN w.set_current_stage THEN w.new_current_stage ELSE t.current_stage END, output = CASE WHEN w.set_output THEN w.new_output ELSE t.output END, error = CASE WHEN w.set_error THEN w.new_error WHEN (w.from_status = 'failed' AND w.to_status <> w.from_status) THEN NULL ELSE t.error END, clarification_questions = CASE WHEN w.set_clarification_questions THEN w.new_clarification_questions::jsonb ELSE t.clarification_questions END, dead_letter_reason = CASE WHEN w.set_dead_letter_reason THEN w.new_dead_letter_reason WHEN (w.from_status = 'failed' AND w.to_status <> w.from_status) THEN NULL ELSE t.dead_letter_reason END
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::numeric[], $8::int[], $9::bool[], $10::bool[], $11::bool[], $12::text[], $13::bool[], $14::text[], $15::bool[], $16::text[], $17::bool[], $18::text[], $19::bool[], $20::text[]) AS w(id, from_status, to_status, fence_worker, fence_attempts, checkpoint_patch, add_cost, add_retries, dead_lettered, guard_dead_lettered, set_current_stage, new_current_stage, set_output, new_output, set_error, new_error, set_clarification_questions, new_clarification_questions, set_dead_letter_reason, new_dead_letter_reason)
        WHERE t.id = w.id AND t.status = w.from_status
              AND (w.fence_worker IS NULL OR t.worker_id = w.fence_worker)
              AND (w.fence_attempts IS NULL OR t.attempts = w.fence_attempts) AND (NOT w.guard_dead_lettered OR t.dead_lettered_at IS NOT NULL)
        RETURNING t.*
    ), logged AS (
        INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, stage, detail, worker_id)
        SELECT e.task_id, e.kind, e.from_status, e.to_status, e.stage, e.detail, e.worker_id
        FROM unnest($21::uuid[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[]) WITH ORDINALITY AS e(task_id, kind, from_status, to_status, stage, detail, worker_id, ord)
        WHERE e.task_id IN (SELECT id FROM moved)
        ORDER BY e.ord
    ), found AS (
        -- Keyed by (task, stage, iteration, ordinal/name): a stage re-run after a crash adds no second copy.
        INSERT INTO pipeline_findings (task_id, stage, iteration, ordinal, type, severity, description, evidence)
        SELECT f.task_id, f.stage, f.iteration, f.ordinal, f.type, f.severity, f.description, f.evidence
        FROM unnest($28::uuid[], $29::text[], $30::int[], $31::int[], $32::text[], $33::text[], $34::text[], $35::text[]) AS f(task_id, stage, iteration, ordinal, type, severity, description, evidence)
        WHERE f.task_id IN (SELECT id FROM moved)
        ON CONFLICT DO NOTHING
    ), reviewed AS (
        INSERT INTO pipeline_reviews (task_id, stage, iteration, verdict, summary, issues)
        SELECT r.task_id, r.stage, r.iteration, r.verdict, r.summary, r.issues::jsonb
        FROM unnest($36::uuid[], $37::text[], $38::int[], $39::text[], $40::text[], $41::text[]) AS r(task_id, stage, iteration, verdict, summary, issues)
        WHERE r.task_id IN (SELECT id FROM moved)
        ON CONFLICT DO NOTHING
    ), kept AS (
        INSERT INTO pipeline_artifacts (task_id, stage, iteration, name, artifact_type, content)
        SELECT a.task_id, a.stage, a.iteration, a.name, a.artifact_type, a.content
        FROM unnest($42::uuid[], $43::text[], $44::int[], $45::text[], $46::text[], $47::text[]) AS a(task_id, stage, iteration, name, artifact_type, content)
        WHERE a.task_id IN (SELECT id FROM moved)
        ON CONFLICT DO NOTHING
    )
    SELECT * FROM moved
