import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { json, notFound, stubApi, type Call } from '../test/fetch'
import { goal } from '../test/goals'
import { renderPage } from '../test/render'
import { Component as GoalsPage } from './Goals'

const NOW = Date.now()
const inDays = (days: number) => new Date(NOW + days * 86_400_000 + 60_000).toISOString()


const weekly = goal({
  id: 'g-1',
  title: 'Review my PRs',
  progress: 0.4,
  schedule_cron: '0 9 * * 1',
  schedule_description: 'At 09:00 AM, only on Monday',
  schedule_next_at: inDays(3),
  cost_usd: 0.42,
  max_cost_usd: 5,
})
const docs = goal({ id: 'g-2', title: 'Write the docs', status: 'paused', maturation_status: 'review', priority: 1 })

const status = { status: 'running', acting: true, cycle_count: 12, last_cycle_at: new Date(NOW - 60_000).toISOString(), current_drive: 'serve' }
const drives = [
  { drive: 'serve', urgency: 0.8, weight: 1, score: 0.8, reason: '2 goals due' },
  { drive: 'maintain', urgency: 0.1, weight: 1, score: 0.1, reason: 'all healthy' },
]
const budget = { daily_budget_usd: 5, daily_spend_usd: 3, remaining_usd: 2, percent_used: 60, tier: 'mid' }
const journal = {
  conversation_id: 'c-j',
  items: [{ id: 'j-1', role: 'assistant', kind: 'narration', content: 'Summarised 3 pull requests.', metadata: {}, created_at: new Date(NOW - 120_000).toISOString() }],
}

function api(overrides: (call: Call) => unknown = () => undefined) {
  return stubApi((call) => {
    const answer = overrides(call)
    if (answer !== undefined) return answer
    if (call.url.startsWith('/api/v1/goals?')) return [weekly, docs]
    if (call.url === '/cortex-api/api/v1/cortex/status') return status
    if (call.url === '/cortex-api/api/v1/cortex/drives') return drives
    if (call.url === '/cortex-api/api/v1/cortex/budget') return budget
    if (call.url.startsWith('/api/v1/journal?')) return journal
    return notFound(call)
  })
}

describe('Goals page', () => {
  it('lists goals with status, progress, next run and cost against the cap', async () => {
    api()
    renderPage(<GoalsPage />, { path: '/goals' })

    const rows = await screen.findAllByTestId('goal-row')
    expect(rows).toHaveLength(2)
    const first = within(rows[0]!)
    expect(first.getByRole('link', { name: 'Review my PRs' }).getAttribute('href')).toBe('/goals/g-1')
    expect(first.getByText('active')).toBeTruthy()
    expect(first.getByRole('progressbar', { name: 'Review my PRs progress' }).getAttribute('aria-valuenow')).toBe('40')
    expect(first.getByText('in 3 days')).toBeTruthy()
    expect(first.getByText('$0.42 of $5.00')).toBeTruthy()
    expect(first.getByText('At 09:00 AM, only on Monday')).toBeTruthy()
    expect(within(rows[1]!).getByText('spec to review')).toBeTruthy()
  })

  it('creates a scheduled goal after showing its cron in words', async () => {
    const user = userEvent.setup()
    const calls = api((call) => {
      if (call.url.startsWith('/api/v1/goals/schedule-preview'))
        return { schedule_cron: '0 9 * * 1', description: 'At 09:00 AM, only on Monday', next_runs: ['2026-12-07T09:00:00Z', '2026-12-14T09:00:00Z', '2026-12-21T09:00:00Z'] }
      if (call.method === 'POST' && call.url === '/api/v1/goals') return json({ ...weekly, id: 'g-3', title: 'Check the backups' }, 201)
      return undefined
    })
    renderPage(<GoalsPage />, { path: '/goals' })

    await user.click(screen.getByRole('button', { name: 'New goal' }))
    const dialog = await screen.findByRole('dialog')
    await user.type(within(dialog).getByLabelText('Title'), 'Check the backups')
    await user.type(within(dialog).getByLabelText('Schedule (cron)'), '0 9 * * 1')
    await user.clear(within(dialog).getByLabelText('Cost cap (USD)'))
    await user.type(within(dialog).getByLabelText('Cost cap (USD)'), '2.5')
    await user.click(within(dialog).getByRole('checkbox'))

    expect(await within(dialog).findByText('At 09:00 AM, only on Monday', {}, { timeout: 5000 })).toBeTruthy()
    expect(within(dialog).getByText(/^Next:/)).toBeTruthy()
    await user.click(within(dialog).getByRole('button', { name: 'Create goal' }))

    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    const created = calls.find((c) => c.method === 'POST' && c.url === '/api/v1/goals')
    expect(created?.body).toEqual({
      title: 'Check the backups',
      description: '',
      priority: 3,
      check_interval_seconds: 3600,
      max_cost_usd: 2.5,
      max_iterations: 50,
      schedule_cron: '0 9 * * 1',
      max_completions: null,
      complex: true,
    })
    expect(calls.filter((c) => c.url.startsWith('/api/v1/goals/schedule-preview')).at(-1)?.url).toBe('/api/v1/goals/schedule-preview?cron=0+9+*+*+1')
  })

  it('says what is wrong with a cron expression and does not save the goal', async () => {
    const user = userEvent.setup()
    const calls = api((call) =>
      call.url.startsWith('/api/v1/goals/schedule-preview') ? json({ detail: "schedule_cron '61 * * * *' is not a cron expression" }, 400) : undefined,
    )
    renderPage(<GoalsPage />, { path: '/goals' })

    await user.click(screen.getByRole('button', { name: 'New goal' }))
    const dialog = await screen.findByRole('dialog')
    await user.type(within(dialog).getByLabelText('Title'), 'Broken schedule')
    await user.type(within(dialog).getByLabelText('Schedule (cron)'), '61 * * * *')
    expect(await within(dialog).findByText(/is not a cron expression/, {}, { timeout: 5000 })).toBeTruthy()
    await user.click(within(dialog).getByRole('button', { name: 'Create goal' }))

    expect(within(dialog).getByLabelText('Schedule (cron)').getAttribute('aria-invalid')).toBe('true')
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
  })

  it('shows cortex running with its drives, budget tier and journal, and pauses it', async () => {
    const user = userEvent.setup()
    let paused = false
    const calls = api((call) => {
      if (call.url === '/cortex-api/api/v1/cortex/pause') paused = true
      if (call.url === '/cortex-api/api/v1/cortex/status' || call.url === '/cortex-api/api/v1/cortex/pause') return { ...status, status: paused ? 'paused' : 'running' }
      return undefined
    })
    renderPage(<GoalsPage />, { path: '/goals' })

    expect(await screen.findByText('running')).toBeTruthy()
    expect((await screen.findByRole('meter', { name: 'serve urgency' })).getAttribute('aria-valuenow')).toBe('80')
    expect(await screen.findByText('mid-range models')).toBeTruthy()
    expect(screen.getByRole('meter', { name: 'Budget used' }).getAttribute('aria-valuenow')).toBe('60')
    expect(screen.getByText('$3.00 of $5.00 spent (60 %), $2.00 left')).toBeTruthy()
    expect(await screen.findByText('Summarised 3 pull requests.')).toBeTruthy()

    await user.click(screen.getByRole('button', { name: 'Pause cortex' }))
    expect(await screen.findByRole('button', { name: 'Resume cortex' })).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST' && c.url === '/cortex-api/api/v1/cortex/pause')).toBe(true)
  })

  it('says cortex is not running when the proxy cannot reach it, and still shows goals and the journal', async () => {
    api((call) => (call.url.startsWith('/cortex-api/') ? json({ detail: 'cortex is not reachable at http://127.0.0.1:8100 (ECONNREFUSED)' }, 502) : undefined))
    renderPage(<GoalsPage />, { path: '/goals' })

    expect(await screen.findByText('cortex is not running')).toBeTruthy()
    expect(screen.queryByRole('alert')).toBeNull()
    expect(screen.queryByRole('button', { name: /Pause cortex|Resume cortex/ })).toBeNull()
    expect(await screen.findAllByTestId('goal-row')).toHaveLength(2)
    expect(await screen.findByText('Summarised 3 pull requests.')).toBeTruthy()
  })

  it('writes to cortex in the journal', async () => {
    const user = userEvent.setup()
    const calls = api((call) =>
      call.method === 'POST' && call.url === '/api/v1/journal/messages'
        ? json({ id: 'j-2', role: 'user', kind: 'message', content: 'Skip the docs today.', metadata: {}, created_at: new Date().toISOString() }, 201)
        : undefined,
    )
    renderPage(<GoalsPage />, { path: '/goals' })

    await user.type(await screen.findByLabelText('Write to cortex'), 'Skip the docs today.')
    await user.click(screen.getByRole('button', { name: 'Send to cortex' }))

    await waitFor(() => expect((screen.getByLabelText('Write to cortex') as HTMLTextAreaElement).value).toBe(''))
    expect(calls.find((c) => c.url === '/api/v1/journal/messages')?.body).toEqual({ content: 'Skip the docs today.' })
  })
})
