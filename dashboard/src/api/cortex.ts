import { queryOptions } from '@tanstack/react-query'

import { ApiError, apiFetch } from './client'
import type { components } from './generated/cortex'

export type BudgetTier = components['schemas']['BudgetTier']
export type DriveName = components['schemas']['DriveName']
export type InFlightIteration = components['schemas']['InFlightIteration']
export type CortexStatus = components['schemas']['CortexStatus']
export type DriveUrgency = components['schemas']['DriveUrgency']
export type BudgetStatus = components['schemas']['BudgetStatus']
export type TriggerAccepted = components['schemas']['TriggerAccepted']

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
