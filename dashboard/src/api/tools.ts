import { queryOptions } from '@tanstack/react-query'

import { apiFetch } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type ToolGroupInfo = OrchestratorSchemas['ToolGroupInfo']
export type ToolInfo = OrchestratorSchemas['ToolInfo']
export type ToolPermissions = OrchestratorSchemas['ToolPermissions']

export const toolQueries = {
  all: ['tools'] as const,

  /** Built-in tools by group, then each connected MCP server's tools (admin). */
  catalog: () =>
    queryOptions({
      queryKey: [...toolQueries.all, 'catalog'] as const,
      queryFn: ({ signal }) => apiFetch<ToolGroupInfo[]>('/api/v1/tools', { signal }),
    }),

  /** Which built-in groups are switched on; only these groups can be switched (admin). */
  permissions: () =>
    queryOptions({
      queryKey: [...toolQueries.all, 'permissions'] as const,
      queryFn: ({ signal }) => apiFetch<ToolPermissions>('/api/v1/tool-permissions', { signal }),
    }),
}

export const toolsApi = {
  setGroups: (groups: Record<string, boolean>) =>
    apiFetch<ToolPermissions>('/api/v1/tool-permissions', { method: 'PATCH', json: { groups } }),
}
