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
export type Source = Schemas['Source']
export type SourceKind = Schemas['SourceKind']
export type SourcePage = Schemas['SourcePage']
export type Profile = Schemas['Profile']
export type ProfileBelief = Schemas['ProfileBelief']
export type ProfileCorrection = Schemas['ProfileCorrection']
export type FormationResult = Schemas['FormationResult']
export type ConsolidationRun = Schemas['ConsolidationRun']
export type ConsolidationLog = Schemas['ConsolidationLog']
export type Contradiction = Schemas['Contradiction']
export type ContradictionPage = Schemas['ContradictionPage']
export type ContradictionState = Contradiction['state']
export type QueueDepth = Schemas['QueueDepth']
export type IngestDeadLetter = Schemas['DeadLetter']
export type IngestDeadLetterPage = Schemas['DeadLetterPage']
export type MemoryStats = Schemas['MemoryStats']
type SourceParams = NonNullable<operations['list_sources_api_v1_memories_sources_get']['parameters']['query']>
type ContradictionParams = NonNullable<operations['list_contradictions_api_v1_memories_contradictions_get']['parameters']['query']>
type PageParams = { offset?: number; limit?: number }

export const MEMORY_TIERS: MemoryTier[] = ['semantic', 'procedural', 'episodic', 'working']
export const SOURCE_KINDS: SourceKind[] = ['chat', 'task', 'feed', 'crawl', 'document', 'api', 'correction', 'consolidation']
export const CONTRADICTION_STATES: ContradictionState[] = ['pending', 'superseded', 'resolved', 'rejected']
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

  profile: (owner?: string) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'profile', owner ?? null] as const,
      queryFn: ({ signal }) => apiFetch<Profile>(`${BASE}/profile${queryString({ owner })}`, { signal }),
    }),

  sources: (params: SourceParams) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'sources', params] as const,
      queryFn: ({ signal }) => apiFetch<SourcePage>(`${BASE}/sources${queryString(params)}`, { signal }),
      placeholderData: keepPreviousData,
    }),

  source: (id: string) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'source', id] as const,
      queryFn: ({ signal }) => apiFetch<Source>(`${BASE}/sources/${encodeURIComponent(id)}`, { signal }),
    }),

  /** The memories formed from one source (newest first). */
  sourceMemories: (sourceId: string, params: PageParams = {}) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'source-memories', sourceId, params] as const,
      queryFn: async ({ signal }) => {
        const page = await apiFetch<MemoryPage>(
          `${BASE}/browse${queryString({ source_id: sourceId, sort: 'created_at', order: 'desc', ...params })}`,
          { signal },
        )
        // A memory-service without the `source_id` filter answers with every memory: never show another
        // source's memories as this one's.
        const items = (page.items ?? []).filter((memory) => memory.source_id === sourceId)
        return { ...page, items, total: items.length === (page.items ?? []).length ? page.total : items.length }
      },
      placeholderData: keepPreviousData,
    }),

  consolidationLog: (params: PageParams = {}) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'consolidation-log', params] as const,
      queryFn: ({ signal }) => apiFetch<ConsolidationLog>(`${BASE}/consolidation-log${queryString(params)}`, { signal }),
      placeholderData: keepPreviousData,
    }),

  contradictions: (params: ContradictionParams) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'contradictions', params] as const,
      queryFn: ({ signal }) => apiFetch<ContradictionPage>(`${BASE}/contradictions${queryString(params)}`, { signal }),
      placeholderData: keepPreviousData,
    }),

  ingestQueue: () =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'ingest-queue'] as const,
      queryFn: ({ signal }) => apiFetch<QueueDepth>(`${BASE}/ingest/queue`, { signal }),
      // The queue drains on its own; keep the numbers current while the panel is open.
      refetchInterval: 5_000,
    }),

  deadLetters: (params: PageParams = {}) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'dead-letters', params] as const,
      queryFn: ({ signal }) => apiFetch<IngestDeadLetterPage>(`${BASE}/ingest/dead-letters${queryString(params)}`, { signal }),
      placeholderData: keepPreviousData,
    }),

  stats: (owner?: string) =>
    queryOptions({
      queryKey: [...memoryQueries.all, 'stats', owner ?? null] as const,
      queryFn: ({ signal }) => apiFetch<MemoryStats>(`${BASE}/stats${queryString({ owner })}`, { signal }),
    }),
}

export const memoryApi = {
  update: (id: string, patch: MemoryUpdate) =>
    apiFetch<Memory>(`${BASE}/${encodeURIComponent(id)}`, { method: 'PATCH', json: patch }),
  remove: (id: string) => apiFetch<void>(`${BASE}/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  correctProfile: (correction: ProfileCorrection) =>
    apiFetch<FormationResult>(`${BASE}/profile/correct`, { method: 'POST', json: correction }),
  consolidate: () => apiFetch<ConsolidationRun>(`${BASE}/consolidate`, { method: 'POST' }),
  requeueDeadLetter: (id: string) =>
    apiFetch<IngestDeadLetter>(`${BASE}/ingest/dead-letters/${encodeURIComponent(id)}/requeue`, { method: 'POST' }),
  removeDeadLetter: (id: string) =>
    apiFetch<void>(`${BASE}/ingest/dead-letters/${encodeURIComponent(id)}`, { method: 'DELETE' }),
}
