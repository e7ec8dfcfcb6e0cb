import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'

import { json, stubApi } from '../test/fetch'
import { pipelineApi, pipelineQueries } from './pipeline'

describe('dead letter', () => {
  it('lists the newest dead-lettered tasks', async () => {
    const entry = { task_id: 't-9', goal: 'Index the wiki', reason: 'retries exhausted (3 of 3)', retries: 3, dead_lettered_at: '2026-11-27T05:00:00Z' }
    const calls = stubApi(() => [entry])

    const entries = await new QueryClient().fetchQuery(pipelineQueries.deadLetter())

    expect(entries).toEqual([entry])
    expect(calls.map((c) => [c.method, c.url])).toEqual([['GET', '/api/v1/pipeline/dead-letter?limit=100']])
  })

  it('re-queues one task and reports a refusal with its detail', async () => {
    const calls = stubApi((call) => (call.url.includes('gone') ? json({ detail: 'task gone is not in the dead letter' }, 409) : { id: 't-9', status: 'queued' }))

    await expect(pipelineApi.requeue('t-9')).resolves.toMatchObject({ status: 'queued' })
    await expect(pipelineApi.requeue('gone')).rejects.toMatchObject({ status: 409, detail: 'task gone is not in the dead letter' })
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['POST', '/api/v1/pipeline/dead-letter/t-9/requeue'],
      ['POST', '/api/v1/pipeline/dead-letter/gone/requeue'],
    ])
  })
})
