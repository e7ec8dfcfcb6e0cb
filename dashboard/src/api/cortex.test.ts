import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'

import { json, stubApi } from '../test/fetch'
import { ApiError } from './client'
import { cortexApi, cortexQueries, cortexUnreachable } from './cortex'

describe('cortex API', () => {
  it('reads the status, drives and budget behind the /cortex-api prefix', async () => {
    const calls = stubApi((call) => (call.url.endsWith('/status') ? { status: 'running', acting: true, cycle_count: 3 } : []))
    const client = new QueryClient()

    await expect(client.fetchQuery(cortexQueries.status())).resolves.toMatchObject({ status: 'running' })
    await client.fetchQuery(cortexQueries.drives())
    expect(calls.map((c) => c.url)).toEqual(['/cortex-api/api/v1/cortex/status', '/cortex-api/api/v1/cortex/drives'])
  })

  it('pauses, resumes and triggers a goal', async () => {
    const calls = stubApi(() => ({ status: 'paused', acting: true, cycle_count: 0 }))

    await cortexApi.pause()
    await cortexApi.resume()
    await cortexApi.trigger('g 1')

    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['POST', '/cortex-api/api/v1/cortex/pause'],
      ['POST', '/cortex-api/api/v1/cortex/resume'],
      ['POST', '/cortex-api/api/v1/cortex/trigger/g%201'],
    ])
  })

  it('tells a cortex that is not running (the proxy answers 502/503, or nothing answers) from a refusal', async () => {
    stubApi(() => json({ detail: 'cortex is not reachable at http://127.0.0.1:8100 (ECONNREFUSED)' }, 502))
    const error = await new QueryClient().fetchQuery({ ...cortexQueries.status(), retry: false }).catch((e: unknown) => e)

    expect(cortexUnreachable(error)).toBe(true)
    expect(cortexUnreachable(new ApiError(503, 'starting'))).toBe(true)
    expect(cortexUnreachable(new TypeError('Failed to fetch'))).toBe(true)
    expect(cortexUnreachable(new ApiError(401, 'admin secret required'))).toBe(false)
  })
})
