import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Route, Routes, useLocation } from 'react-router'
import { describe, expect, it } from 'vitest'

import type { Goal } from '../api/goals'
import { json, notFound, stubApi, type Call } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as GoalDetailPage } from './GoalDetail'
import { goal } from '../test/goals'

const inReview = goal({
  id: 'g-1',
  title: 'Write the docs',
  status: 'paused',
  maturation_status: 'review',
  spec: '## Plan\n\nOne page per service.\n\n## Acceptance\n\nEvery route documented.',
  iteration_count: 1,
  max_iterations: 10,
  cost_usd: 0.12,
  max_cost_usd: 3,
})
const iteration = {
  id: 'i-1',
  goal_id: 'g-1',
  iteration: 1,
  plan: 'Draft the orchestrator page',
  pipeline_task_id: 't-1',
  outcome: 'failed',
  cost_usd: 0.12,
  duration_ms: 42_000,
  summary: 'The reviewer wanted examples',
  started_at: '2026-11-27T05:00:00Z',
}
const reflection = { id: 'r-1', goal_id: 'g-1', approach_fingerprint: 'abcdef0123456789', outcome: 'failed', lesson: 'Add examples first.', created_at: '2026-11-27T05:10:00Z' }
const task = { id: 't-1', goal: 'Draft the orchestrator page', status: 'failed', cost_usd: 0.12, metadata: {}, created_at: '2026-11-27T05:00:00Z' }

function Location() {
  return <p data-testid="location">{useLocation().pathname}</p>
}

function renderGoal() {
  return renderPage(
    <Routes>
      <Route path="/goals/:goalId" element={<GoalDetailPage />} />
      <Route path="/goals" element={<Location />} />
    </Routes>,
    { path: '/goals/g-1' },
  )
}

function api(current: () => Goal, overrides: (call: Call) => unknown = () => undefined) {
  return stubApi((call) => {
    const answer = overrides(call)
    if (answer !== undefined) return answer
    if (call.url === '/api/v1/goals/g-1') return current()
    if (call.url.startsWith('/api/v1/goals/g-1/iterations?')) return [iteration]
    if (call.url.startsWith('/api/v1/goals/g-1/tasks?')) return [task]
    if (call.url.startsWith('/api/v1/goals/g-1/reflections?')) return [reflection]
    if (call.url.startsWith('/api/v1/goals/g-1/comments?')) return []
    return notFound(call)
  })
}

describe('Goal page', () => {
  it('shows the goal with its iterations, tasks and reflections', async () => {
    api(() => inReview)
    renderGoal()

    expect(await screen.findByRole('heading', { name: 'Write the docs' })).toBeTruthy()
    expect(screen.getByText('$0.12 of $3.00')).toBeTruthy()
    expect(await screen.findByText('Draft the orchestrator page', { selector: 'p' })).toBeTruthy()
    expect(screen.getByText('The reviewer wanted examples')).toBeTruthy()
    expect(screen.getByRole('link', { name: 'Draft the orchestrator page' }).getAttribute('href')).toBe('/tasks?task=t-1')
    expect(await screen.findByText('Add examples first.')).toBeTruthy()
    const track = screen.getByRole('list', { name: 'Maturation' })
    expect(within(track).getByText('review').getAttribute('aria-current')).toBe('step')
  })

  it('approves the spec under review and moves the goal on to building', async () => {
    const user = userEvent.setup()
    let current = inReview
    const calls = api(
      () => current,
      (call) => {
        if (call.url !== '/api/v1/goals/g-1/approve-spec') return undefined
        current = { ...inReview, maturation_status: 'building' }
        return current
      },
    )
    renderGoal()

    expect(await screen.findByRole('heading', { name: 'Spec to review' })).toBeTruthy()
    expect(await screen.findByText(/Every route documented\./)).toBeTruthy()
    await user.click(screen.getByRole('button', { name: 'Approve spec' }))

    await waitFor(() => expect(screen.queryByRole('heading', { name: 'Spec to review' })).toBeNull())
    expect(within(screen.getByRole('list', { name: 'Maturation' })).getByText('building').getAttribute('aria-current')).toBe('step')
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/v1/goals/g-1/approve-spec'])
  })

  it('rejects the spec only with feedback, and sends the feedback', async () => {
    const user = userEvent.setup()
    const calls = api(
      () => inReview,
      (call) => (call.url === '/api/v1/goals/g-1/reject-spec' ? { ...inReview, maturation_status: 'speccing', spec_feedback: call.body } : undefined),
    )
    renderGoal()

    await user.click(await screen.findByRole('button', { name: 'Reject with feedback' }))
    await user.click(screen.getByRole('button', { name: 'Send back' }))
    expect(screen.getByText('Say what should change, so cortex can write a better spec.')).toBeTruthy()
    expect(calls.some((c) => c.url.endsWith('/reject-spec'))).toBe(false)

    await user.type(screen.getByLabelText('What should change'), 'Add request examples.')
    await user.click(screen.getByRole('button', { name: 'Send back' }))

    await waitFor(() => expect(calls.find((c) => c.url.endsWith('/reject-spec'))?.body).toEqual({ feedback: 'Add request examples.' }))
  })

  it('resumes a paused goal, runs it now, and adds a comment', async () => {
    const user = userEvent.setup()
    const active = { ...inReview, status: 'active' as const }
    let current: Goal = inReview
    const calls = api(
      () => current,
      (call) => {
        if (call.method === 'PATCH') return (current = active)
        if (call.url.endsWith('/trigger')) return json(active, 202)
        if (call.method === 'POST' && call.url === '/api/v1/goals/g-1/comments')
          return json({ id: 'k-1', goal_id: 'g-1', author: 'admin', body: 'Start with the gateway.', created_at: new Date().toISOString() }, 201)
        return undefined
      },
    )
    renderGoal()

    const runNow = await screen.findByRole('button', { name: 'Run now' })
    expect((runNow as HTMLButtonElement).disabled).toBe(true)
    await user.click(screen.getByRole('button', { name: 'Resume' }))
    await waitFor(() => expect((screen.getByRole('button', { name: 'Run now' }) as HTMLButtonElement).disabled).toBe(false))
    await user.click(screen.getByRole('button', { name: 'Run now' }))
    await user.type(screen.getByLabelText('Add a comment'), 'Start with the gateway.')
    await user.click(screen.getByRole('button', { name: 'Comment' }))

    await waitFor(() => expect(calls.filter((c) => c.method !== 'GET').length).toBe(3))
    expect(calls.filter((c) => c.method !== 'GET').map((c) => [c.method, c.url, c.body])).toEqual([
      ['PATCH', '/api/v1/goals/g-1', { status: 'active' }],
      ['POST', '/api/v1/goals/g-1/trigger', undefined],
      ['POST', '/api/v1/goals/g-1/comments', { body: 'Start with the gateway.' }],
    ])
  })

  it('deletes the goal only after confirmation, then returns to the list', async () => {
    const user = userEvent.setup()
    const calls = api(
      () => inReview,
      (call) => (call.method === 'DELETE' ? json(null, 204) : undefined),
    )
    renderGoal()

    await user.click(await screen.findByRole('button', { name: 'Delete' }))
    const dialog = screen.getByRole('dialog', { name: 'Delete this goal?' })
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)
    await user.click(within(dialog).getByRole('button', { name: 'Delete goal' }))

    expect(await screen.findByTestId('location')).toBeTruthy()
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.url)).toEqual(['/api/v1/goals/g-1'])
  })
})
