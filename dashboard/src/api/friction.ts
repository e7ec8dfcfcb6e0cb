import { queryOptions } from '@tanstack/react-query'

import { apiFetch, queryString } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type FrictionInfo = OrchestratorSchemas['FrictionInfo']
export type FrictionCreate = OrchestratorSchemas['FrictionCreate']
export type FrictionStatus = OrchestratorSchemas['FrictionStatus']

export const FRICTION_STATUSES: readonly FrictionStatus[] = ['open', 'fixing', 'fixed', 'dismissed']

// The limits of nova_contracts.orchestrator.FrictionCreate, checked before sending.
export const MAX_FRICTION_TEXT = 10_000
export const MAX_SCREENSHOT_CHARS = 1_000_000

const BASE = '/api/v1/friction'
const report = (id: string) => `${BASE}/${encodeURIComponent(id)}`

export const frictionQueries = {
  all: ['friction'] as const,

  list: (status?: FrictionStatus) =>
    queryOptions({
      queryKey: [...frictionQueries.all, 'list', status ?? 'any'] as const,
      queryFn: ({ signal }) => apiFetch<FrictionInfo[]>(`${BASE}${queryString({ status, limit: 100 })}`, { signal }),
    }),

  /** One report with its screenshot (the list leaves screenshots out). */
  report: (id: string) =>
    queryOptions({
      queryKey: [...frictionQueries.all, 'report', id] as const,
      queryFn: ({ signal }) => apiFetch<FrictionInfo>(report(id), { signal }),
    }),
}

export const frictionApi = {
  create: (body: FrictionCreate) => apiFetch<FrictionInfo>(BASE, { method: 'POST', json: body }),
  setStatus: (id: string, status: FrictionStatus) => apiFetch<FrictionInfo>(report(id), { method: 'PATCH', json: { status } }),
  remove: (id: string) => apiFetch<void>(report(id), { method: 'DELETE' }),
  /** Submit a pipeline task with the report as its context; the report becomes `fixing` with the task's id. */
  fix: (id: string) => apiFetch<FrictionInfo>(`${report(id)}/fix`, { method: 'POST' }),
}
