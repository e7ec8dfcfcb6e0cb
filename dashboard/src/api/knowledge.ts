import { queryOptions } from '@tanstack/react-query'

import { apiFetch, queryString } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type KnowledgeSource = OrchestratorSchemas['KnowledgeSource']
export type KnowledgeSourceCreate = OrchestratorSchemas['KnowledgeSourceCreate']
export type KnowledgeSourceUpdate = OrchestratorSchemas['KnowledgeSourceUpdate']
export type KnowledgeSourceKind = OrchestratorSchemas['KnowledgeSourceKind']
export type CrawlSettings = OrchestratorSchemas['CrawlSettings']
export type Crawl = OrchestratorSchemas['Crawl']
export type Credential = OrchestratorSchemas['Credential']
export type CredentialCreate = OrchestratorSchemas['CredentialCreate']

/** How many sources and credentials the page lists; the API caps a page at 200. */
export const KNOWLEDGE_PAGE = 200
/** How often a running crawl's counters are read again while the page shows it. */
export const LIVE_CRAWL_POLL_MS = 2_000

const BASE = '/api/v1/knowledge'
const source = (id: string) => `${BASE}/sources/${encodeURIComponent(id)}`
const credential = (id: string) => `${BASE}/credentials/${encodeURIComponent(id)}`

/** A source knowledge-worker is about to crawl or is crawling: its progress is worth watching live. */
export function isCrawlActive(item: Pick<KnowledgeSource, 'status'>): boolean {
  return item.status === 'queued' || item.status === 'crawling'
}

/** A validation was asked for and knowledge-worker has not given its verdict yet (the verdict clears the request). */
export function isValidationPending(item: Credential): boolean {
  return Boolean(item.validation_requested_at)
}

export const knowledgeQueries = {
  all: ['knowledge'] as const,

  sources: () =>
    queryOptions({
      queryKey: [...knowledgeQueries.all, 'sources'] as const,
      queryFn: ({ signal }) =>
        apiFetch<KnowledgeSource[]>(`${BASE}/sources${queryString({ limit: KNOWLEDGE_PAGE })}`, { signal }),
      // Fast while a crawl is queued or running, so its status follows the worker; slow otherwise.
      refetchInterval: (query) => (query.state.data?.some(isCrawlActive) ? LIVE_CRAWL_POLL_MS : 30_000),
    }),

  crawls: (sourceId: string, live: boolean) =>
    queryOptions({
      queryKey: [...knowledgeQueries.all, 'sources', sourceId, 'crawls'] as const,
      queryFn: ({ signal }) => apiFetch<Crawl[]>(`${source(sourceId)}/crawls${queryString({ limit: 20 })}`, { signal }),
      refetchInterval: (query) =>
        live || query.state.data?.some((crawl) => crawl.status === 'running') ? LIVE_CRAWL_POLL_MS : false,
    }),

  credentials: () =>
    queryOptions({
      queryKey: [...knowledgeQueries.all, 'credentials'] as const,
      queryFn: ({ signal }) =>
        apiFetch<Credential[]>(`${BASE}/credentials${queryString({ limit: KNOWLEDGE_PAGE })}`, { signal }),
      // While a validation waits for knowledge-worker's next round, look for its verdict.
      refetchInterval: (query) => (query.state.data?.some(isValidationPending) ? 5_000 : false),
    }),
}

export const knowledgeApi = {
  createSource: (body: KnowledgeSourceCreate) =>
    apiFetch<KnowledgeSource>(`${BASE}/sources`, { method: 'POST', json: body }),
  updateSource: (id: string, body: KnowledgeSourceUpdate) =>
    apiFetch<KnowledgeSource>(source(id), { method: 'PATCH', json: body }),
  deleteSource: (id: string) => apiFetch<void>(source(id), { method: 'DELETE' }),
  /** Queue a crawl now (202); 409 while one runs. */
  crawlNow: (id: string) => apiFetch<KnowledgeSource>(`${source(id)}/crawl`, { method: 'POST' }),
  addCredential: (body: CredentialCreate) =>
    apiFetch<Credential>(`${BASE}/credentials`, { method: 'POST', json: body }),
  deleteCredential: (id: string) => apiFetch<void>(credential(id), { method: 'DELETE' }),
  /** Ask knowledge-worker to check the credential on its next round (202). */
  validateCredential: (id: string) => apiFetch<Credential>(`${credential(id)}/validate`, { method: 'POST' }),
}
