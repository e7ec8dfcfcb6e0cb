import { queryOptions } from '@tanstack/react-query'

import { apiFetch } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type PodInfo = OrchestratorSchemas['PodInfo']
export type PodCreate = OrchestratorSchemas['PodCreate']
export type PodUpdate = OrchestratorSchemas['PodUpdate']
// The same Pydantic model on the way in and out; FastAPI documents the two shapes separately.
export type PodAgentConfig = OrchestratorSchemas['PodAgentConfig-Input']
export type PodAgentInfo = OrchestratorSchemas['PodAgentConfig-Output']
export type PipelineRole = OrchestratorSchemas['PipelineRole']
export type OnFailure = OrchestratorSchemas['OnFailure']
export type RunCondition = OrchestratorSchemas['RunCondition-Input']
export type Severity = OrchestratorSchemas['Severity']
export type SandboxTier = OrchestratorSchemas['SandboxTier']

const BASE = '/api/v1/pods'

export const podsQueries = {
  all: ['pods'] as const,

  list: () =>
    queryOptions({
      queryKey: [...podsQueries.all, 'list'] as const,
      queryFn: ({ signal }) => apiFetch<PodInfo[]>(BASE, { signal }),
    }),
}

export const podsApi = {
  create: (body: PodCreate) => apiFetch<PodInfo>(BASE, { method: 'POST', json: body }),
  update: (id: string, patch: PodUpdate) => apiFetch<PodInfo>(`${BASE}/${encodeURIComponent(id)}`, { method: 'PATCH', json: patch }),
  remove: (id: string) => apiFetch<void>(`${BASE}/${encodeURIComponent(id)}`, { method: 'DELETE' }),
}
