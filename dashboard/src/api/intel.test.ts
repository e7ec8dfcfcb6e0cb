import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'

import { json, stubApi } from '../test/fetch'
import { intelApi, intelQueries } from './intel'

describe('intel API', () => {
  it('lists feeds and recommendations a page at a time, filtered by status when one is chosen', async () => {
    const calls = stubApi(() => [])
    const client = new QueryClient()

    await client.fetchQuery(intelQueries.feeds())
    await client.fetchQuery(intelQueries.recommendations())
    await client.fetchQuery(intelQueries.recommendations('dismissed'))

    expect(calls.map((c) => c.url)).toEqual([
      '/api/v1/intel/feeds?limit=200',
      '/api/v1/intel/recommendations?limit=200',
      '/api/v1/intel/recommendations?status=dismissed&limit=200',
    ])
  })

  it('checks, pauses and deletes a feed; approves, dismisses and comments on a recommendation', async () => {
    const calls = stubApi((call) => (call.method === 'DELETE' ? json(null, 204) : { id: 'x' }))

    await intelApi.checkFeed('f/1')
    await intelApi.updateFeed('f-1', { enabled: false })
    await intelApi.deleteFeed('f-1')
    await intelApi.approve('r-1')
    await intelApi.setStatus('r-1', 'dismissed')
    await intelApi.comment('r-1', 'Later.')

    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/api/v1/intel/feeds/f%2F1/check', undefined],
      ['PATCH', '/api/v1/intel/feeds/f-1', { enabled: false }],
      ['DELETE', '/api/v1/intel/feeds/f-1', undefined],
      ['POST', '/api/v1/intel/recommendations/r-1/approve', undefined],
      ['PATCH', '/api/v1/intel/recommendations/r-1', { status: 'dismissed' }],
      ['POST', '/api/v1/intel/recommendations/r-1/comments', { body: 'Later.' }],
    ])
  })
})
