import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'

import { json, stubApi } from '../test/fetch'
import { goalQueries, goalsApi } from './goals'

describe('goals API', () => {
  it('lists a page of goals, filtered by status when one is chosen', async () => {
    const calls = stubApi(() => [])
    const client = new QueryClient()

    await client.fetchQuery(goalQueries.list())
    await client.fetchQuery(goalQueries.list('paused'))

    expect(calls.map((c) => c.url)).toEqual(['/api/v1/goals?limit=200', '/api/v1/goals?status=paused&limit=200'])
  })

  it('asks for a cron preview with the expression encoded, and reports a bad one with its detail', async () => {
    const calls = stubApi((call) =>
      call.url.includes('61')
        ? json({ detail: "schedule_cron '61 * * * *' is not a cron expression" }, 400)
        : { schedule_cron: '0 9 * * 1', description: 'At 09:00 AM, only on Monday', next_runs: [] },
    )
    const client = new QueryClient()

    await expect(client.fetchQuery(goalQueries.schedulePreview('0 9 * * 1'))).resolves.toMatchObject({ description: 'At 09:00 AM, only on Monday' })
    await expect(client.fetchQuery(goalQueries.schedulePreview('61 * * * *'))).rejects.toMatchObject({ status: 400 })
    expect(calls.map((c) => c.url)).toEqual([
      '/api/v1/goals/schedule-preview?cron=0+9+*+*+1',
      '/api/v1/goals/schedule-preview?cron=61+*+*+*+*',
    ])
  })

  it('approves a spec, rejects one with feedback, triggers and deletes a goal', async () => {
    const calls = stubApi((call) => (call.method === 'DELETE' ? json(null, 204) : { id: 'g-1' }))

    await goalsApi.approveSpec('g-1')
    await goalsApi.rejectSpec('g-1', 'Cover the tests too.')
    await goalsApi.trigger('g-1')
    await goalsApi.remove('g-1')

    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/api/v1/goals/g-1/approve-spec', undefined],
      ['POST', '/api/v1/goals/g-1/reject-spec', { feedback: 'Cover the tests too.' }],
      ['POST', '/api/v1/goals/g-1/trigger', undefined],
      ['DELETE', '/api/v1/goals/g-1', undefined],
    ])
  })
})
