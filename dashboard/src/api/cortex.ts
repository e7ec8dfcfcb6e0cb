import { queryOptions } from '@tanstack/react-query'

import { ApiError, apiFetch } from './client'

// cortex's routes are being built alongside this page, so its OpenAPI document does not list them yet: these
// shapes are nova_contracts.cortex written by hand. Once `make openapi` regenerates generated/cortex.ts with
// them, swap these for `components['schemas'][…]` like the other modules.
export type BudgetTier = 'best' | 'mid' | 'cheap' | 'none'
export type DriveName = 'serve' | 'maintain' | 'improve' | 'reflect' | 'learn'

export interface InFlightIteration {
  goal_id: string
  iteration: number
  iteration_id: string
  task_id?: string | null
  fingerprint: string
  plan?: string
  started_at: string
}

export interface CortexStatus {
  status: 'running' | 'paused'
  acting: boolean
  cycle_count: number
  last_cycle_at?: string | null
  current_drive?: DriveName | null
  last_action?: string | null
  budget_tier?: BudgetTier | null
  in_flight?: InFlightIteration[]
}

export interface DriveUrgency {
  drive: DriveName
  urgency: number
  weight: number
  score: number
  reason: string
  goal_id?: string | null
}

export interface BudgetStatus {
  daily_budget_usd: number
  daily_spend_usd: number
  remaining_usd: number
  percent_used: number
  tier: BudgetTier
  checked_at?: string | null
}

export interface TriggerAccepted {
  goal_id: string
  detail: string
}

const BASE = '/cortex-api/api/v1/cortex'

/**
 * cortex is down (the proxy answers 502/503/504, or nothing answers): the panel says so instead of showing an
 * error. Any other refusal (401, 404 from an older cortex) is a real error.
 */
export function cortexUnreachable(error: unknown): boolean {
  if (error instanceof ApiError) return error.status === 502 || error.status === 503 || error.status === 504
  return error instanceof TypeError
}

/** Don't retry while cortex is simply not running: the next poll asks again. */
function retryUnlessDown(failures: number, error: unknown): boolean {
  return !cortexUnreachable(error) && failures < 2
}

export const cortexQueries = {
  all: ['cortex'] as const,

  status: () =>
    queryOptions({
      queryKey: [...cortexQueries.all, 'status'] as const,
      queryFn: ({ signal }) => apiFetch<CortexStatus>(`${BASE}/status`, { signal }),
      refetchInterval: 5_000,
      retry: retryUnlessDown,
    }),

  drives: () =>
    queryOptions({
      queryKey: [...cortexQueries.all, 'drives'] as const,
      queryFn: ({ signal }) => apiFetch<DriveUrgency[]>(`${BASE}/drives`, { signal }),
      refetchInterval: 10_000,
      retry: retryUnlessDown,
    }),

  budget: () =>
    queryOptions({
      queryKey: [...cortexQueries.all, 'budget'] as const,
      queryFn: ({ signal }) => apiFetch<BudgetStatus>(`${BASE}/budget`, { signal }),
      refetchInterval: 15_000,
      retry: retryUnlessDown,
    }),
}

export const cortexApi = {
  pause: () => apiFetch<CortexStatus>(`${BASE}/pause`, { method: 'POST' }),
  resume: () => apiFetch<CortexStatus>(`${BASE}/resume`, { method: 'POST' }),
  /** Run a goal on cortex's next cycle, whatever the drives say. */
  trigger: (goalId: string) => apiFetch<TriggerAccepted>(`${BASE}/trigger/${encodeURIComponent(goalId)}`, { method: 'POST' }),
}

/** A budget tier in words, for the gauge. */
export const TIER_LABELS: Record<BudgetTier, string> = {
  best: 'best models',
  mid: 'mid-range models',
  cheap: 'cheap models only',
  none: 'budget spent: maintenance only',
}
