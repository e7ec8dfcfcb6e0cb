-- A feed taken by an intel-worker replica is leased until `claimed_until`, so another replica never polls it
-- at the same time; the worker's status report releases it, and a lease that runs out frees a feed whose
-- worker died mid-poll.
ALTER TABLE intel_feeds ADD COLUMN IF NOT EXISTS claimed_until TIMESTAMPTZ;
