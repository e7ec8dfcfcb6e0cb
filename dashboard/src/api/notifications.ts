import { queryOptions } from '@tanstack/react-query'

import { ApiError, apiFetch, apiResponse, getAdminSecret, queryString } from './client'
import type { NotificationWorkerMessage, NotificationWorkerRequest } from './notificationsWorker'
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
 * stream. Throws an ApiError when the server refuses it, an Error when it fails or ends. Read in a worker where
 * the browser has workers (see notificationsWorker.ts), on the page otherwise.
 */
export async function followNotifications(
  signal: AbortSignal,
  onNotification: (notification: PipelineNotification) => void,
  onOpen?: () => void,
): Promise<void> {
  const deliver = (data: string) => {
    try {
      onNotification(JSON.parse(data) as PipelineNotification)
    } catch {
      // An event this version cannot read is skipped; the count's next refresh catches up.
    }
  }
  if (typeof Worker === 'undefined') return followOnPage(signal, deliver, onOpen)
  return followInWorker(signal, deliver, onOpen)
}

async function followOnPage(signal: AbortSignal, deliver: (data: string) => void, onOpen?: () => void): Promise<void> {
  const response = await apiResponse(STREAM, { signal, headers: { Accept: 'text/event-stream' } })
  if (!response.body) throw new Error('the notification stream has no body')
  onOpen?.()
  for await (const event of readServerSentEvents(response.body, signal)) {
    if (event.data === '[DONE]') break
    deliver(event.data)
  }
  signal.throwIfAborted()
  throw new Error('the notification stream ended')
}

function followInWorker(signal: AbortSignal, deliver: (data: string) => void, onOpen?: () => void): Promise<void> {
  signal.throwIfAborted()
  const worker = new Worker(new URL('./notificationsWorker.ts', import.meta.url), { type: 'module', name: 'nova-notifications' })
  return new Promise<void>((_, reject) => {
    const finish = (error: unknown) => {
      worker.terminate()
      signal.removeEventListener('abort', onAbort)
      reject(error)
    }
    const onAbort = () => finish(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    worker.onerror = () => finish(new Error('the notification worker failed'))
    worker.onmessage = (event: MessageEvent<NotificationWorkerMessage>) => {
      const message = event.data
      if (message.type === 'open') onOpen?.()
      else if (message.type === 'event') deliver(message.data)
      else if (message.type === 'refused') finish(new ApiError(message.status, message.detail))
      else finish(new Error(message.reason))
    }
    const request: NotificationWorkerRequest = { url: STREAM, secret: getAdminSecret() }
    worker.postMessage(request)
  })
}

/** The Tasks page with the task open. */
export function taskLink(taskId: string): string {
  return `/tasks${queryString({ task: taskId })}`
}
