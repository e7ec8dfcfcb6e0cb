import { queryOptions } from '@tanstack/react-query'

import { apiFetch, apiResponse, queryString } from './client'
import type { PipelineTaskPage, PipelineTaskState } from './pipeline'
import { readServerSentEvents } from './sse'

export type PipelineNotificationKind = 'completed' | 'failed' | 'needs_clarification' | 'needs_review'

/**
 * One SSE event of `/api/v1/pipeline/notifications/stream` (nova_contracts.orchestrator.PipelineNotification).
 * Written here because an SSE route has no response schema in the OpenAPI document; keep it in step.
 */
export interface PipelineNotification {
  kind: PipelineNotificationKind
  task_id: string
  status: PipelineTaskState
  goal: string
  detail?: string | null
  at: string
}

/** The states in which a task waits for a person: the "needs you" count. */
export const NEEDS_YOU_STATES: readonly PipelineTaskState[] = ['clarification_needed', 'pending_human_review']

const BASE = '/api/v1/pipeline'
const STREAM = `${BASE}/notifications/stream`

export const notificationQueries = {
  // Under the pipeline's key, so whatever refreshes the task lists (the Tasks page's events) refreshes this too.
  all: ['pipeline', 'needs-you'] as const,

  /** How many of the caller's tasks wait for clarification or a review: one page of one row per state, its total. */
  needsYouCount: () =>
    queryOptions({
      queryKey: [...notificationQueries.all, 'count'] as const,
      queryFn: async ({ signal }) => {
        const pages = await Promise.all(
          NEEDS_YOU_STATES.map((status) =>
            apiFetch<PipelineTaskPage>(`${BASE}/tasks${queryString({ status, limit: 1 })}`, { signal }),
          ),
        )
        // A number whatever the answer: NaN would never equal itself and keep the badge re-rendering.
        return pages.reduce((sum, page) => sum + (Number.isFinite(page?.total) ? page.total : 0), 0)
      },
      // The stream keeps it current; this catches what no notification announces (a task answered elsewhere).
      refetchInterval: 60_000,
    }),
}

/**
 * Follow the caller's task notifications until `signal` aborts; `onOpen` runs once the server has accepted the
 * stream. Throws an ApiError when the server refuses it, an Error when it fails or ends. (fetch, not
 * EventSource: EventSource cannot send the admin secret.)
 */
export async function followNotifications(
  signal: AbortSignal,
  onNotification: (notification: PipelineNotification) => void,
  onOpen?: () => void,
): Promise<void> {
  const response = await apiResponse(STREAM, { signal, headers: { Accept: 'text/event-stream' } })
  if (!response.body) throw new Error('the notification stream has no body')
  onOpen?.()
  for await (const event of readServerSentEvents(response.body, signal)) {
    if (event.data === '[DONE]') break
    try {
      onNotification(JSON.parse(event.data) as PipelineNotification)
    } catch {
      // An event this version cannot read is skipped; the count's next refresh catches up.
    }
  }
  signal.throwIfAborted()
  throw new Error('the notification stream ended')
}

/** The Tasks page with the task open. */
export function taskLink(taskId: string): string {
  return `/tasks${queryString({ task: taskId })}`
}
