import { keepPreviousData, queryOptions } from '@tanstack/react-query'

import { apiFetch, queryString } from './client'
import type { components, operations } from './generated/memory-service'

type Schemas = components['schemas']
export type Memory = Schemas['Memory']
export type MemoryTier = Schemas['MemoryTier']
export type MemoryPage = Schemas['MemoryPage']
export type MemorySort = Schemas['MemorySort']
export type MemoryUpdate = Schemas['MemoryUpdate']
export type MemoryHistory = Schemas['MemoryHistory']
export type FusionMethod = Schemas['FusionMethod']
export type MemorySearchRequest = Schemas['MemorySearchRequest']
export type MemorySearchResponse = Schemas['MemorySearchResponse']
export type MemorySearchHit = Schemas['MemorySearchHit']
export type BrowseParams = NonNullable<operations['browse_memories_api_v1_memories_browse_get']['parameters']['query']>

export const MEMORY_TIERS: MemoryTier[] = ['semantic', 'procedural', 'episodic', 'working']
export const FUSION_METHODS: FusionMethod[] = ['weighted', 'rrf', 'dense', 'keyword']

// memory-service behind the dashboard's /memory-api/ proxy prefix (stripped before it reaches the service).
const BASE = '/memory-api/api/v1/memories'

export const memoryQueries = {
  all: ['memory'] as const,

  browse: (params: BrowseParams) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'browse', params] as const,
      queryFn: ({ signal }) => apiFetch<MemoryPage>(`${BASE}/browse${queryString(params)}`, { signal }),
      // Paging keeps the current rows on screen until the next page arrives.
      placeholderData: keepPreviousData,
    }),

  search: (request: MemorySearchRequest) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'search', request] as const,
      queryFn: ({ signal }) => apiFetch<MemorySearchResponse>(`${BASE}/search`, { method: 'POST', json: request, signal }),
      placeholderData: keepPreviousData,
    }),

  history: (id: string) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'history', id] as const,
      queryFn: ({ signal }) => apiFetch<MemoryHistory>(`${BASE}/${encodeURIComponent(id)}/history`, { signal }),
    }),
}

export const memoryApi = {
  update: (id: string, patch: MemoryUpdate) =>
    apiFetch<Memory>(`${BASE}/${encodeURIComponent(id)}`, { method: 'PATCH', json: patch }),
  remove: (id: string) => apiFetch<void>(`${BASE}/${encodeURIComponent(id)}`, { method: 'DELETE' }),
}
