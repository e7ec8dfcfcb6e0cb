import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { PipelineTaskInfo } from '../api/pipeline'
import { json, notFound, stubApi, type Call } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as TasksPage, elapsed } from './Tasks'

function task(overrides: Partial<PipelineTaskInfo> & Pick<PipelineTaskInfo, 'id' | 'goal' | 'status'>): PipelineTaskInfo {
  return {
    cost_usd: 0,
    attempts: 1,
    retries: 0,
    created_at: '2026-11-27T05:00:00Z',
    updated_at: '2026-11-27T05:00:00Z',
    ...overrides,
  }
}

const running = task({ id: 't-1', goal: 'Fix the login bug', status: 'task_running', current_stage: 'task', cost_usd: 0.0123, pod_name: 'coding', started_at: '2026-11-27T05:00:00Z' })
const asking = task({ id: 't-2', goal: 'Write the release notes', status: 'clarification_needed', clarification_questions: ['Which version?'] })
const done = task({ id: 't-3', goal: 'Summarise the logs', status: 'complete', output: 'All **green**.', completed_at: '2026-11-27T05:01:05Z', started_at: '2026-11-27T05:00:00Z' })

/** The events endpoint: an SSE body the test writes into. */
function eventStream() {
  const encoder = new TextEncoder()
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
  return {
    response: () => new Response(body, { headers: { 'Content-Type': 'text/event-stream' } }),
    send: (event: unknown) => controller.enqueue(encoder.encode(`data: ${JSON.stringify(event)}\n\n`)),
  }
}

function api(tasks: PipelineTaskInfo[], extra: (call: Call) => unknown = () => undefined, events = eventStream()) {
  return stubApi((call) => {
    const answer = extra(call)
    if (answer !== undefined) return answer
    if (call.url === '/api/v1/pipeline/events') return events.response()
    if (call.url.startsWith('/api/v1/pipeline/tasks?')) return { items: tasks, total: tasks.length, limit: 100, offset: 0 }
    if (call.url === '/api/v1/pipeline/queue-stats') return { depth: 1, processing: 1, running: 1, queued: 0, dead_letter: 0, workers: 2 }
    if (call.url === '/api/v1/pods') return [{ id: 'p-1', name: 'coding', enabled: true, created_at: '', updated_at: '' }]
    const match = call.url.match(/^\/api\/v1\/pipeline\/tasks\/([^/]+)(?:\/(\w+))?$/)
    if (match && call.method === 'GET') return match[2] ? [] : tasks.find((t) => t.id === match[1]) ?? notFound(call)
    return notFound(call)
  })
}

describe('Tasks page', () => {
  it('groups tasks on the board with their stage, elapsed time and cost', async () => {
    api([running, asking, done])
    renderPage(<TasksPage />, { path: '/tasks' })

    const runningColumn = await screen.findByRole('region', { name: 'Running' })
    expect(within(runningColumn).getByText('Fix the login bug')).toBeTruthy()
    expect(within(runningColumn).getByText('· task')).toBeTruthy()
    expect(within(runningColumn).getByText('$0.01')).toBeTruthy()
    expect(within(screen.getByRole('region', { name: 'Needs you' })).getByText('Write the release notes')).toBeTruthy()
    expect(within(screen.getByRole('region', { name: 'Done' })).getByText('1m 5s')).toBeTruthy()
  })

  it('moves a card when a progress event arrives', async () => {
    const events = eventStream()
    const tasks = [running]
    api(tasks, () => undefined, events)
    renderPage(<TasksPage />, { path: '/tasks' })
    await within(await screen.findByRole('region', { name: 'Running' })).findByText('Fix the login bug')

    // The server moved on; the event tells the page before its next refetch does.
    tasks[0] = { ...running, status: 'pending_human_review' }
    events.send({ task_id: 't-1', status: 'pending_human_review', previous: 'review_running', at: '2026-11-27T05:02:00Z' })

    await within(screen.getByRole('region', { name: 'Needs you' })).findByText('Fix the login bug')
    expect(screen.getByText('Live')).toBeTruthy()
  })

  it('submits a goal to the chosen pod, and refuses an empty one', async () => {
    const calls = api([], (call) => (call.method === 'POST' && call.url === '/api/v1/pipeline/tasks' ? json({ ...running, status: 'queued' }, 202) : undefined))
    renderPage(<TasksPage />, { path: '/tasks' })
    await screen.findByText('No tasks yet')

    await userEvent.click(screen.getByRole('button', { name: 'Submit' }))
    expect(screen.getByText('Describe what the pipeline should do.')).toBeTruthy()

    await userEvent.type(screen.getByLabelText('Goal'), 'Fix the login bug')
    await userEvent.selectOptions(await screen.findByLabelText('Pod'), 'coding')
    await userEvent.type(screen.getByLabelText('Tags (optional)'), 'auth, urgent')
    await userEvent.click(screen.getByRole('button', { name: 'Submit' }))

    expect(await screen.findByText('Task queued on coding')).toBeTruthy()
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ goal: 'Fix the login bug', pod_id: 'p-1', tags: ['auth', 'urgent'], metadata: {} })
  })

  it('answers clarification questions from the task detail', async () => {
    const calls = api([asking], (call) => (call.url.endsWith('/clarify') ? { ...asking, status: 'queued' } : undefined))
    renderPage(<TasksPage />, { path: '/tasks?task=t-2' })

    const dialog = await screen.findByRole('dialog', { name: 'Task' })
    await userEvent.type(await within(dialog).findByLabelText('Which version?'), '2.1')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Send answers' }))

    expect(await screen.findByText('Answers sent; the task continues')).toBeTruthy()
    expect(calls.find((c) => c.url.endsWith('/clarify'))?.body).toEqual({ answers: ['2.1'] })
  })

  it('cancels a running task and shows a finished one without actions', async () => {
    const calls = api([running, done], (call) => (call.url.endsWith('/cancel') ? { ...running, status: 'cancelled' } : undefined))
    const { unmount } = renderPage(<TasksPage />, { path: '/tasks?task=t-1' })

    await userEvent.click(await screen.findByRole('button', { name: 'Cancel task' }))
    await waitFor(() => expect(calls.some((c) => c.url === '/api/v1/pipeline/tasks/t-1/cancel' && c.method === 'POST')).toBe(true))
    unmount()

    renderPage(<TasksPage />, { path: '/tasks?task=t-3' })
    const dialog = await screen.findByRole('dialog', { name: 'Task' })
    expect(await within(dialog).findByText('green', {}, { timeout: 5000 })).toBeTruthy()
    expect(within(dialog).queryByRole('button', { name: 'Cancel task' })).toBeNull()
  })
})

describe('elapsed', () => {
  it('counts from the start to the end, or to now while running', () => {
    expect(elapsed({ created_at: '2026-11-27T05:00:00Z', started_at: '2026-11-27T05:00:10Z', completed_at: '2026-11-27T06:02:10Z' }, 0)).toBe('1h 2m')
    expect(elapsed({ created_at: '2026-11-27T05:00:00Z' }, Date.parse('2026-11-27T05:00:42Z'))).toBe('42s')
  })
})
