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
    if (call.url === '/api/v1/pipeline/dead-letter?limit=100') return []
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

describe('Tasks page dead letter', () => {
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString()
  const stuck = {
    task_id: 't-9',
    goal: 'Index the wiki',
    reason: 'retries exhausted (3 of 3): heartbeat older than 150s (worker-a) in task_running',
    retries: 3,
    dead_lettered_at: twoHoursAgo,
  }

  it('lists dead-lettered tasks with reason, retries and age, and re-queues one after confirming', async () => {
    let dead = [stuck]
    const calls = api([], (call) => {
      if (call.url === '/api/v1/pipeline/dead-letter?limit=100') return dead
      if (call.url === '/api/v1/pipeline/dead-letter/t-9/requeue' && call.method === 'POST') {
        dead = []
        return task({ id: 't-9', goal: 'Index the wiki', status: 'queued' })
      }
      return undefined
    })
    renderPage(<TasksPage />, { path: '/tasks' })

    const list = await screen.findByRole('list', { name: 'Dead-lettered tasks' })
    const row = within(list).getByRole('listitem')
    expect(within(row).getByText('Index the wiki')).toBeTruthy()
    expect(within(row).getByText(/retries exhausted \(3 of 3\)/)).toBeTruthy()
    expect(within(row).getByText('3 retries')).toBeTruthy()
    expect(within(row).getByText('dead-lettered 2 hours ago')).toBeTruthy()

    await userEvent.click(within(row).getByRole('button', { name: 'Re-queue' }))
    const dialog = await screen.findByRole('dialog', { name: 'Re-queue this task?' })
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
    await userEvent.click(within(row).getByRole('button', { name: 'Re-queue' }))
    await userEvent.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Re-queue task' }))

    expect(await screen.findByText('Task re-queued; it resumes from its checkpoint')).toBeTruthy()
    expect(await screen.findByText('No dead-lettered tasks')).toBeTruthy()
    expect(screen.queryByRole('dialog')).toBeNull()
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/v1/pipeline/dead-letter/t-9/requeue'])
  })

  it("keeps the confirmation open with the server's refusal", async () => {
    api([], (call) => {
      if (call.url === '/api/v1/pipeline/dead-letter?limit=100') return [stuck]
      if (call.url.endsWith('/requeue')) return json({ detail: 'task t-9 is not in the dead letter' }, 409)
      return undefined
    })
    renderPage(<TasksPage />, { path: '/tasks' })

    await userEvent.click(await screen.findByRole('button', { name: 'Re-queue' }))
    const dialog = await screen.findByRole('dialog', { name: 'Re-queue this task?' })
    await userEvent.click(within(dialog).getByRole('button', { name: 'Re-queue task' }))

    expect(await within(dialog).findByText('task t-9 is not in the dead letter')).toBeTruthy()
    expect(screen.getByRole('list', { name: 'Dead-lettered tasks' })).toBeTruthy()
  })

  it('says when the dead letter is empty, and offers a retry when it cannot be loaded', async () => {
    let fail = true
    api([], (call) => (call.url === '/api/v1/pipeline/dead-letter?limit=100' ? (fail ? json({ detail: 'database is starting' }, 503) : []) : undefined))
    renderPage(<TasksPage />, { path: '/tasks' })

    expect(screen.getByText('Loading the dead letter…')).toBeTruthy()
    expect(await screen.findByText('Could not load the dead letter')).toBeTruthy()
    expect(screen.getByText('database is starting')).toBeTruthy()
    fail = false
    const notice = screen.getByText('Could not load the dead letter').closest('[role=alert]') as HTMLElement
    await userEvent.click(within(notice).getByRole('button', { name: 'Retry' }))

    expect(await screen.findByText('No dead-lettered tasks')).toBeTruthy()
  })
})

describe('elapsed', () => {
  it('counts from the start to the end, or to now while running', () => {
    expect(elapsed({ created_at: '2026-11-27T05:00:00Z', started_at: '2026-11-27T05:00:10Z', completed_at: '2026-11-27T06:02:10Z' }, 0)).toBe('1h 2m')
    expect(elapsed({ created_at: '2026-11-27T05:00:00Z' }, Date.parse('2026-11-27T05:00:42Z'))).toBe('42s')
  })
})
