import { queryOptions } from '@tanstack/react-query'

import { apiFetch, apiResponse, queryString } from './client'
import type { OrchestratorSchemas } from './orchestrator'
import { readServerSentEvents } from './sse'

export type ConversationSummary = OrchestratorSchemas['ConversationSummary']
export type ConversationDetail = OrchestratorSchemas['ConversationDetail']
export type StoredChatMessage = OrchestratorSchemas['StoredChatMessage']
export type ChatStreamRequest = OrchestratorSchemas['ChatStreamRequest']
/**
 * A chat turn as the dashboard sends it. `research` (nova_contracts.chat.ChatStreamRequest.research) also
 * offers the turn the web_search and web_fetch tools. Optional here whether or not the generated types carry it
 * yet (they would make a defaulted field required): a plain turn leaves it out.
 */
export type ChatTurnRequest = Omit<ChatStreamRequest, 'research'> & { research?: boolean }

/**
 * One SSE event of `/api/v1/chat/stream` (nova_contracts.chat.ChatStreamEvent). Written here because an SSE
 * route has no response schema in the OpenAPI document; keep it in step with the contract.
 */
export interface ChatStreamEvent {
  delta?: string | null
  status?: string | null
  meta?: Record<string, unknown> | null
  error?: string | null
}

export const chatQueries = {
  all: ['chat'] as const,

  conversations: () =>
    queryOptions({
      queryKey: [...chatQueries.all, 'conversations'] as const,
      queryFn: ({ signal }) => apiFetch<ConversationSummary[]>(`/api/v1/conversations${queryString({ limit: 100 })}`, { signal }),
    }),

  conversation: (id: string) =>
    queryOptions({
      queryKey: [...chatQueries.all, 'conversation', id] as const,
      queryFn: ({ signal }) => apiFetch<ConversationDetail>(`/api/v1/conversations/${encodeURIComponent(id)}`, { signal }),
    }),
}

export const chatApi = {
  rename: (id: string, title: string) =>
    apiFetch<ConversationSummary>(`/api/v1/conversations/${encodeURIComponent(id)}`, { method: 'PATCH', json: { title } }),
  remove: (id: string) => apiFetch<void>(`/api/v1/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' }),
}

/**
 * Send one message and hand each streamed event to `onEvent` until `[DONE]`. A refusal before the stream
 * starts (401, 404, 422) throws an ApiError; aborting `signal` stops reading (the Stop button) and throws
 * the AbortError. Returns the session the server answered in (the X-Session-Id header).
 */
export async function streamChat(
  request: ChatTurnRequest,
  { signal, onEvent }: { signal: AbortSignal; onEvent: (event: ChatStreamEvent) => void },
): Promise<{ sessionId: string | null }> {
  const response = await apiResponse('/api/v1/chat/stream', {
    method: 'POST',
    json: request,
    signal,
    headers: { Accept: 'text/event-stream' },
  })
  const sessionId = response.headers.get('X-Session-Id')
  if (!response.body) return { sessionId }
  for await (const event of readServerSentEvents(response.body, signal)) {
    if (event.data === '[DONE]') break
    try {
      onEvent(JSON.parse(event.data) as ChatStreamEvent)
    } catch {
      onEvent({ error: `unreadable event from the server: ${event.data.slice(0, 200)}` })
    }
  }
  signal.throwIfAborted()
  return { sessionId }
}
