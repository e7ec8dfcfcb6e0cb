import { queryOptions } from '@tanstack/react-query'

import { apiFetch, queryString } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type Feed = OrchestratorSchemas['Feed']
export type FeedCreate = OrchestratorSchemas['FeedCreate']
export type FeedUpdate = OrchestratorSchemas['FeedUpdate']
export type FeedType = OrchestratorSchemas['FeedType']
export type IntelStats = OrchestratorSchemas['IntelStats']
export type Recommendation = OrchestratorSchemas['Recommendation']
export type RecommendationStatus = OrchestratorSchemas['RecommendationStatus']
export type DigestResult = OrchestratorSchemas['DigestResult']

/** How many feeds and recommendations the page lists; the API caps a page at 200. */
export const INTEL_PAGE = 200

const BASE = '/api/v1/intel'
const feed = (id: string) => `${BASE}/feeds/${encodeURIComponent(id)}`
const recommendation = (id: string) => `${BASE}/recommendations/${encodeURIComponent(id)}`

export const intelQueries = {
  all: ['intel'] as const,

  feeds: () =>
    queryOptions({
      queryKey: [...intelQueries.all, 'feeds'] as const,
      queryFn: ({ signal }) => apiFetch<Feed[]>(`${BASE}/feeds${queryString({ limit: INTEL_PAGE })}`, { signal }),
      // intel-worker reports each check on its own schedule; a slow poll shows the new status.
      refetchInterval: 15_000,
    }),

  stats: () =>
    queryOptions({
      queryKey: [...intelQueries.all, 'stats'] as const,
      queryFn: ({ signal }) => apiFetch<IntelStats>(`${BASE}/stats`, { signal }),
      refetchInterval: 15_000,
    }),

  recommendations: (status?: RecommendationStatus) =>
    queryOptions({
      queryKey: [...intelQueries.all, 'recommendations', status ?? 'any'] as const,
      queryFn: ({ signal }) =>
        apiFetch<Recommendation[]>(`${BASE}/recommendations${queryString({ status, limit: INTEL_PAGE })}`, { signal }),
      // New recommendations arrive whenever intel-worker's digest runs.
      refetchInterval: 15_000,
    }),
}

export const intelApi = {
  createFeed: (body: FeedCreate) => apiFetch<Feed>(`${BASE}/feeds`, { method: 'POST', json: body }),
  updateFeed: (id: string, body: FeedUpdate) => apiFetch<Feed>(feed(id), { method: 'PATCH', json: body }),
  deleteFeed: (id: string) => apiFetch<void>(feed(id), { method: 'DELETE' }),
  /** Make the feed due now; intel-worker fetches it on its next poll (202). */
  checkFeed: (id: string) => apiFetch<Feed>(`${feed(id)}/check`, { method: 'POST' }),
  /** Creates a goal from the recommendation; the answer carries its `goal_id`. */
  approve: (id: string) => apiFetch<Recommendation>(`${recommendation(id)}/approve`, { method: 'POST' }),
  /** `dismissed`, or `new` to bring a dismissed one back. */
  setStatus: (id: string, status: 'new' | 'dismissed') =>
    apiFetch<Recommendation>(recommendation(id), { method: 'PATCH', json: { status } }),
  /** Group the items waiting for a digest into recommendations now (intel-worker does it after each poll). */
  digest: () => apiFetch<DigestResult>(`${BASE}/recommendations/digest`, { method: 'POST' }),
  comment: (id: string, body: string) =>
    apiFetch<Recommendation>(`${recommendation(id)}/comments`, { method: 'POST', json: { body } }),
}
