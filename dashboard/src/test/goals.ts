import type { Goal } from '../api/goals'

/** A goal as the orchestrator returns it, with the fields a test does not care about filled in. */
export function goal(overrides: Partial<Goal> & Pick<Goal, 'id' | 'title'>): Goal {
  return {
    description: '',
    priority: 3,
    status: 'active',
    progress: 0,
    check_interval_seconds: 3600,
    completion_count: 0,
    iteration_count: 0,
    cost_usd: 0,
    created_by: 'admin',
    owner: 'admin',
    created_at: '2026-11-27T05:00:00Z',
    updated_at: '2026-11-27T05:00:00Z',
    ...overrides,
  }
}
