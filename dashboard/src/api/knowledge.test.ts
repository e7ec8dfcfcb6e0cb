import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'

import { json, stubApi } from '../test/fetch'
import { isValidationPending, knowledgeApi, knowledgeQueries, LIVE_CRAWL_POLL_MS, type Credential, type KnowledgeSource } from './knowledge'

/** The refetch interval a query's options give for the data it holds. */
function intervalFor(options: { refetchInterval?: unknown }, data: unknown): unknown {
  const interval = options.refetchInterval
  return typeof interval === 'function' ? interval({ state: { data } }) : interval
}

const credential: Credential = { id: 'k-1', name: 'gh', platform: 'github', masked: '••••abcd', created_at: '2026-12-04T21:00:00Z' }

describe('knowledge API', () => {
  it('polls the sources fast only while a crawl is queued or running', () => {
    const options = knowledgeQueries.sources()
    const idle = [{ status: 'idle' }] as KnowledgeSource[]
    expect(intervalFor(options, idle)).toBe(30_000)
    expect(intervalFor(options, [...idle, { status: 'queued' }])).toBe(LIVE_CRAWL_POLL_MS)
    expect(intervalFor(options, [...idle, { status: 'crawling' }])).toBe(LIVE_CRAWL_POLL_MS)
  })

  it("reads a source's crawls again while one runs, and stops once none does", () => {
    expect(intervalFor(knowledgeQueries.crawls('s-1', false), [{ status: 'running' }])).toBe(LIVE_CRAWL_POLL_MS)
    expect(intervalFor(knowledgeQueries.crawls('s-1', false), [{ status: 'complete' }])).toBe(false)
    // Queued: no crawl record yet, but the worker is about to open one.
    expect(intervalFor(knowledgeQueries.crawls('s-1', true), [])).toBe(LIVE_CRAWL_POLL_MS)
  })

  it('waits for a validation verdict only while one was asked for', () => {
    expect(isValidationPending(credential)).toBe(false)
    expect(isValidationPending({ ...credential, validation_requested_at: '2026-12-04T21:01:00Z' })).toBe(true)
    expect(intervalFor(knowledgeQueries.credentials(), [credential])).toBe(false)
    expect(intervalFor(knowledgeQueries.credentials(), [{ ...credential, validation_requested_at: '2026-12-04T21:01:00Z' }])).toBe(5_000)
  })

  it('sends each action to its route', async () => {
    const calls = stubApi((call) => (call.method === 'DELETE' ? json(null, 204) : { id: 'x' }))
    const client = new QueryClient()

    await client.fetchQuery(knowledgeQueries.crawls('s-1', false))
    await knowledgeApi.crawlNow('s-1')
    await knowledgeApi.updateSource('s-1', { enabled: false })
    await knowledgeApi.deleteSource('s-1')
    await knowledgeApi.addCredential({ name: 'gh', platform: 'github', secret: 'ghp_token' })
    await knowledgeApi.validateCredential('k-1')
    await knowledgeApi.deleteCredential('k-1')

    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['GET', '/api/v1/knowledge/sources/s-1/crawls?limit=20', undefined],
      ['POST', '/api/v1/knowledge/sources/s-1/crawl', undefined],
      ['PATCH', '/api/v1/knowledge/sources/s-1', { enabled: false }],
      ['DELETE', '/api/v1/knowledge/sources/s-1', undefined],
      ['POST', '/api/v1/knowledge/credentials', { name: 'gh', platform: 'github', secret: 'ghp_token' }],
      ['POST', '/api/v1/knowledge/credentials/k-1/validate', undefined],
      ['DELETE', '/api/v1/knowledge/credentials/k-1', undefined],
    ])
  })
})
