import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, render, screen, waitFor, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import { afterEach, describe, expect, it, vi } from 'vitest'

import { setAdminSecret } from '../api/client'
import type { PipelineNotification } from '../api/notifications'
import { json, notFound, stubApi, type Call } from '../test/fetch'
import { NeedsYouBadge, TaskNotifications } from './Notifications'

/** A notification stream whose events the test releases one at a time. */
function controlledStream() {
  const encoder = new TextEncoder()
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
  })
  return {
    response: new Response(stream, { headers: { 'Content-Type': 'text/event-stream' } }),
    send: (data: PipelineNotification) => controller.enqueue(encoder.encode(`data: ${JSON.stringify(data)}\n\n`)),
    close: () => controller.close(),
  }
}

const STREAM = '/api/v1/pipeline/notifications/stream'

function page(total: number) {
  return { items: [], total, limit: 1, offset: 0 }
}

/** The waiting tasks per state, as the tasks list answers `?status=…&limit=1`. */
function api(waiting: { clarification: number; review: number }, stream: (call: Call) => Response | Error) {
  return stubApi((call) => {
    if (call.url === STREAM) return stream(call)
    if (call.url === '/api/v1/pipeline/tasks?status=clarification_needed&limit=1') return page(waiting.clarification)
    if (call.url === '/api/v1/pipeline/tasks?status=pending_human_review&limit=1') return page(waiting.review)
    return notFound(call)
  })
}

function renderNotifications() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  return render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter>
        <nav aria-label="Main">
          Tasks <NeedsYouBadge />
        </nav>
        <TaskNotifications />
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

const notification = (overrides: Partial<PipelineNotification>): PipelineNotification => ({
  kind: 'completed',
  task_id: 't-1',
  status: 'complete',
  goal: 'Summarise the release notes',
  detail: null,
  at: '2026-12-04T22:00:00Z',
  ...overrides,
})

afterEach(() => {
  vi.useRealTimers()
})

describe('Task notifications', () => {
  it('seeds the needs-you count from the API, then toasts each notification with a link to its task and recounts', async () => {
    const waiting = { clarification: 1, review: 0 }
    const stream = controlledStream()
    api(waiting, () => stream.response)
    renderNotifications()

    const nav = screen.getByRole('navigation', { name: 'Main' })
    expect(await within(nav).findByText('1 task needs you')).toBeTruthy()
    expect(within(nav).getByTestId('needs-you-count').getAttribute('title')).toBe('1 task needs you')

    waiting.review = 1
    await act(async () => stream.send(notification({ kind: 'needs_review', task_id: 't-2', status: 'pending_human_review', goal: 'Deploy the docs' })))
    const review = await screen.findByText('Task needs your review')
    const card = review.closest('[data-testid="task-notification"]') as HTMLElement
    expect(within(card).getByText('Deploy the docs')).toBeTruthy()
    expect(within(card).getByRole('link', { name: 'Open task' }).getAttribute('href')).toBe('/tasks?task=t-2')
    expect(await within(nav).findByText('2 tasks need you')).toBeTruthy()

    waiting.clarification = 0
    waiting.review = 0
    await act(async () => stream.send(notification({ kind: 'failed', task_id: 't-2', status: 'failed', goal: 'Deploy the docs', detail: 'human review: reject' })))
    expect(await screen.findByText('Task failed')).toBeTruthy()
    expect(screen.getByText('human review: reject')).toBeTruthy()
    // The same task is shown once, in its latest state.
    expect(screen.queryByText('Task needs your review')).toBeNull()
    await waitFor(() => expect(within(nav).queryByTestId('needs-you-count')).toBeNull())

    await act(async () => stream.send(notification({})))
    const done = (await screen.findByText('Task completed')).closest('[data-testid="task-notification"]') as HTMLElement
    expect(within(done).getByRole('link', { name: 'Open task' }).getAttribute('href')).toBe('/tasks?task=t-1')
  })

  it('reconnects with backoff when the stream drops', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true })
    const streams: ReturnType<typeof controlledStream>[] = []
    const calls = api({ clarification: 0, review: 0 }, () => {
      const next = controlledStream()
      streams.push(next)
      return next.response
    })
    renderNotifications()
    await waitFor(() => expect(streams).toHaveLength(1))

    await act(async () => streams[0]!.close())
    await act(async () => vi.advanceTimersByTimeAsync(1_500))
    await waitFor(() => expect(streams).toHaveLength(2))

    await act(async () => streams[1]!.send(notification({ goal: 'After the reconnect' })))
    expect(await screen.findByText('After the reconnect')).toBeTruthy()
    expect(calls.filter((c) => c.url === STREAM)).toHaveLength(2)
  })

  it('stops asking while the server refuses the credentials, and starts again with a new admin secret', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true })
    setAdminSecret('wrong-secret-0123456789')
    const stream = controlledStream()
    const calls = api({ clarification: 0, review: 0 }, (call) =>
      call.headers.get('X-Admin-Secret') === 'right-secret-0123456789' ? stream.response : json({ detail: 'invalid admin secret' }, 401),
    )
    renderNotifications()
    const streamCalls = () => calls.filter((c) => c.url === STREAM)
    await waitFor(() => expect(streamCalls()).toHaveLength(1))

    // Well past every backoff: a refused stream is not asked for again with the same secret.
    await act(async () => vi.advanceTimersByTimeAsync(120_000))
    expect(streamCalls()).toHaveLength(1)

    setAdminSecret('right-secret-0123456789')
    await act(async () => vi.advanceTimersByTimeAsync(3_000))
    await waitFor(() => expect(streamCalls()).toHaveLength(2))
    expect(streamCalls()[1]!.headers.get('X-Admin-Secret')).toBe('right-secret-0123456789')
    await act(async () => stream.send(notification({ kind: 'needs_clarification', status: 'clarification_needed', goal: 'Which database?' })))
    expect(await screen.findByText('Task needs your answers')).toBeTruthy()
  })
})
