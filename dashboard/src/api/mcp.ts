import { queryOptions } from '@tanstack/react-query'

import { apiFetch } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type McpServerInfo = OrchestratorSchemas['McpServerInfo']
export type McpServerCreate = OrchestratorSchemas['McpServerCreate']
export type McpServerUpdate = OrchestratorSchemas['McpServerUpdate']
export type McpCatalogEntry = OrchestratorSchemas['McpCatalogEntry']
export type McpServerState = OrchestratorSchemas['McpServerState']
export type McpTransport = OrchestratorSchemas['McpTransport']

const BASE = '/api/v1/mcp-servers'

export const mcpQueries = {
  all: ['mcp'] as const,

  servers: () =>
    queryOptions({
      queryKey: [...mcpQueries.all, 'servers'] as const,
      queryFn: ({ signal }) => apiFetch<McpServerInfo[]>(BASE, { signal }),
      // A server that is connecting changes state on its own; keep polling while any is.
      refetchInterval: (query) => (query.state.data?.some((s) => s.state === 'connecting') ? 2_000 : false),
    }),

  catalog: () =>
    queryOptions({
      queryKey: [...mcpQueries.all, 'catalog'] as const,
      queryFn: ({ signal }) => apiFetch<McpCatalogEntry[]>(`${BASE}/catalog`, { signal }),
      staleTime: Infinity,
    }),
}

export const mcpApi = {
  create: (body: McpServerCreate) => apiFetch<McpServerInfo>(BASE, { method: 'POST', json: body }),
  update: (id: string, patch: McpServerUpdate) =>
    apiFetch<McpServerInfo>(`${BASE}/${encodeURIComponent(id)}`, { method: 'PATCH', json: patch }),
  reload: (id: string) => apiFetch<McpServerInfo>(`${BASE}/${encodeURIComponent(id)}/reload`, { method: 'POST' }),
  remove: (id: string) => apiFetch<void>(`${BASE}/${encodeURIComponent(id)}`, { method: 'DELETE' }),
}
