import { queryOptions } from '@tanstack/react-query'

import { apiFetch, apiResponse, queryString } from './client'
import type { OrchestratorSchemas } from './orchestrator'
import { readServerSentEvents } from './sse'

export type PipelineTaskInfo = OrchestratorSchemas['PipelineTaskInfo']
export type PipelineTaskPage = OrchestratorSchemas['PipelineTaskPage']
export type PipelineTaskSubmit = OrchestratorSchemas['PipelineTaskSubmit']
export type PipelineTaskState = OrchestratorSchemas['PipelineTaskState']
export type TimelineEntry = OrchestratorSchemas['TimelineEntry']
export type PipelineFinding = OrchestratorSchemas['PipelineFinding']
export type PipelineReview = OrchestratorSchemas['PipelineReview']
export type PipelineArtifact = OrchestratorSchemas['PipelineArtifact']
export type QueueStats = OrchestratorSchemas['QueueStats']
export type HumanReviewDecision = OrchestratorSchemas['HumanReviewDecision']
export type DeadLetterEntry = OrchestratorSchemas['DeadLetterEntry']

/** How many dead-lettered tasks the Tasks page lists (newest first). */
export const DEAD_LETTER_PAGE = 100

/**
 * One SSE event of `/api/v1/pipeline/events` (nova_contracts.orchestrator.PipelineProgressEvent). Written
 * here because an SSE route has no response schema in the OpenAPI document; keep it in step with the contract.
 */
export interface PipelineProgressEvent {
  task_id: string
  status: PipelineTaskState
  previous?: PipelineTaskState | null
  stage?: string | null
  detail?: string | null
  at: string
}

export const TERMINAL_STATES: ReadonlySet<PipelineTaskState> = new Set(['complete', 'failed', 'cancelled'])

const BASE = '/api/v1/pipeline'
const task = (id: string) => `${BASE}/tasks/${encodeURIComponent(id)}`

export const pipelineQueries = {
  all: ['pipeline'] as const,

  tasks: () =>
    queryOptions({
      queryKey: [...pipelineQueries.all, 'tasks'] as const,
      queryFn: ({ signal }) => apiFetch<PipelineTaskPage>(`${BASE}/tasks${queryString({ limit: 100 })}`, { signal }),
    }),

  task: (id: string) =>
    queryOptions({
      queryKey: [...pipelineQueries.all, 'task', id] as const,
      queryFn: ({ signal }) => apiFetch<PipelineTaskInfo>(task(id), { signal }),
      // Progress events drive updates; polling a live task covers an event the pub/sub dropped.
      refetchInterval: (query) => (query.state.data && TERMINAL_STATES.has(query.state.data.status) ? false : 5_000),
    }),

  timeline: (id: string) =>
    queryOptions({
      queryKey: [...pipelineQueries.all, 'task', id, 'timeline'] as const,
      queryFn: ({ signal }) => apiFetch<TimelineEntry[]>(`${task(id)}/timeline`, { signal }),
    }),

  findings: (id: string) =>
    queryOptions({
      queryKey: [...pipelineQueries.all, 'task', id, 'findings'] as const,
      queryFn: ({ signal }) => apiFetch<PipelineFinding[]>(`${task(id)}/findings`, { signal }),
    }),

  reviews: (id: string) =>
    queryOptions({
      queryKey: [...pipelineQueries.all, 'task', id, 'reviews'] as const,
      queryFn: ({ signal }) => apiFetch<PipelineReview[]>(`${task(id)}/reviews`, { signal }),
    }),

  artifacts: (id: string) =>
    queryOptions({
      queryKey: [...pipelineQueries.all, 'task', id, 'artifacts'] as const,
      queryFn: ({ signal }) => apiFetch<PipelineArtifact[]>(`${task(id)}/artifacts`, { signal }),
    }),

  /** Tasks that ran out of retries, newest first, with the reason. */
  deadLetter: () =>
    queryOptions({
      queryKey: [...pipelineQueries.all, 'dead-letter'] as const,
      queryFn: ({ signal }) => apiFetch<DeadLetterEntry[]>(`${BASE}/dead-letter${queryString({ limit: DEAD_LETTER_PAGE })}`, { signal }),
    }),

  queueStats: () =>
    queryOptions({
      queryKey: [...pipelineQueries.all, 'queue-stats'] as const,
      queryFn: ({ signal }) => apiFetch<QueueStats>(`${BASE}/queue-stats`, { signal }),
      refetchInterval: 10_000,
    }),
}

export const pipelineApi = {
  submit: (body: PipelineTaskSubmit) => apiFetch<PipelineTaskInfo>(`${BASE}/tasks`, { method: 'POST', json: body }),
  cancel: (id: string) => apiFetch<PipelineTaskInfo>(`${task(id)}/cancel`, { method: 'POST' }),
  clarify: (id: string, answers: string[]) => apiFetch<PipelineTaskInfo>(`${task(id)}/clarify`, { method: 'POST', json: { answers } }),
  review: (id: string, decision: HumanReviewDecision) =>
    apiFetch<PipelineTaskInfo>(`${task(id)}/review`, { method: 'POST', json: decision }),
  /** Queue a dead-lettered task again with fresh retries; it resumes from its checkpoint. */
  requeue: (id: string) => apiFetch<PipelineTaskInfo>(`${BASE}/dead-letter/${encodeURIComponent(id)}/requeue`, { method: 'POST' }),
}

/** Follow the live progress events until `signal` aborts; throws when the connection fails or ends. */
export async function followPipelineEvents(signal: AbortSignal, onEvent: (event: PipelineProgressEvent) => void): Promise<void> {
  const response = await apiResponse(`${BASE}/events`, { signal, headers: { Accept: 'text/event-stream' } })
  if (!response.body) throw new Error('the event stream has no body')
  for await (const event of readServerSentEvents(response.body, signal)) {
    try {
      onEvent(JSON.parse(event.data) as PipelineProgressEvent)
    } catch {
      // An event this version cannot read is skipped; the next list refresh catches up.
    }
  }
  signal.throwIfAborted()
  throw new Error('the event stream ended')
}
