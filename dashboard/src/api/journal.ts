import { queryOptions } from '@tanstack/react-query'

import { apiFetch, queryString } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type JournalEntry = OrchestratorSchemas['JournalEntry']
export type JournalPage = OrchestratorSchemas['JournalPage']

const BASE = '/api/v1/journal'

/** The journal's conversation in the chat list has this session id on every Nova (orchestrator/journal). */
export const JOURNAL_SESSION_ID = 'nova-journal'

export const journalQueries = {
  all: ['journal'] as const,

  /** The newest entries first: cortex's narration and escalations, and what the person wrote. */
  recent: (limit = 30) =>
    queryOptions({
      queryKey: [...journalQueries.all, 'recent', limit] as const,
      queryFn: ({ signal }) => apiFetch<JournalPage>(`${BASE}${queryString({ limit })}`, { signal }),
      refetchInterval: 10_000,
    }),
}

export const journalApi = {
  /** Write to cortex; it reads the message on its next cycle. */
  write: (content: string) => apiFetch<JournalEntry>(`${BASE}/messages`, { method: 'POST', json: { content } }),
}
