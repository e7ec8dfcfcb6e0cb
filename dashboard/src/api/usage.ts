import { queryOptions } from '@tanstack/react-query'

import { apiFetch, queryString } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type UsageSummary = OrchestratorSchemas['UsageSummary']
export type UsageByModel = OrchestratorSchemas['UsageByModel']
export type UsagePeriod = OrchestratorSchemas['UsagePeriod']
export type UsageEvent = OrchestratorSchemas['UsageEvent']

export const usageQueries = {
  all: ['usage'] as const,

  summary: (period: UsagePeriod) =>
    queryOptions({
      queryKey: [...usageQueries.all, 'summary', period] as const,
      queryFn: ({ signal }) => apiFetch<UsageSummary>(`/api/v1/usage/summary${queryString({ period })}`, { signal }),
      refetchInterval: 30_000,
    }),

  /** Individual model calls since `since`, newest first (the orchestrator pages at most 1000 at a time). */
  events: (since: string) =>
    queryOptions({
      queryKey: [...usageQueries.all, 'events', since] as const,
      queryFn: ({ signal }) => apiFetch<UsageEvent[]>(`/api/v1/usage${queryString({ since, limit: 200 })}`, { signal }),
      refetchInterval: 30_000,
    }),
}
