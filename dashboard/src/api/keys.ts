import { queryOptions } from '@tanstack/react-query'

import { apiFetch } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type ApiKeyInfo = OrchestratorSchemas['ApiKeyInfo']
export type ApiKeyCreate = OrchestratorSchemas['ApiKeyCreate']
export type ApiKeyCreated = OrchestratorSchemas['ApiKeyCreated']

export const keysQueries = {
  all: ['keys'] as const,

  list: () =>
    queryOptions({
      queryKey: [...keysQueries.all, 'list'] as const,
      queryFn: ({ signal }) => apiFetch<ApiKeyInfo[]>('/api/v1/keys', { signal }),
    }),
}

export const keysApi = {
  create: (body: ApiKeyCreate) => apiFetch<ApiKeyCreated>('/api/v1/keys', { method: 'POST', json: body }),
  revoke: (id: string) => apiFetch<void>(`/api/v1/keys/${encodeURIComponent(id)}`, { method: 'DELETE' }),
}
