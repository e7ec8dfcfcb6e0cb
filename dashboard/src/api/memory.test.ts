import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'

import { json, stubApi } from '../test/fetch'
import { memoryApi, memoryQueries, type Memory } from './memory'

const BASE = '/memory-api/api/v1/memories'

function memory(id: string, sourceId: string | null): Memory {
  return {
    id,
    content: id,
    tier: 'semantic',
    owner: 'admin',
    shared: false,
    importance: 0.5,
    confidence: 1,
    access_count: 0,
    embedded: true,
    source_id: sourceId,
    created_at: '2026-11-27T05:00:00Z',
    updated_at: '2026-11-27T05:00:00Z',
  }
}

describe('memory API', () => {
  it('reads the formation views from their memory-service paths, leaving unset filters out', async () => {
    const calls = stubApi(() => ({}))
    const client = new QueryClient()

    await client.fetchQuery(memoryQueries.profile('admin'))
    await client.fetchQuery(memoryQueries.sources({ kind: 'feed', offset: 0, limit: 25 }))
    await client.fetchQuery(memoryQueries.sources({ kind: undefined, offset: 25, limit: 25 }))
    await client.fetchQuery(memoryQueries.source('s/1'))
    await client.fetchQuery(memoryQueries.consolidationLog({ offset: 0, limit: 20 }))
    await client.fetchQuery(memoryQueries.contradictions({ state: 'pending', offset: 0, limit: 25 }))
    await client.fetchQuery(memoryQueries.ingestQueue())
    await client.fetchQuery(memoryQueries.deadLetters({ offset: 0, limit: 20 }))
    await client.fetchQuery(memoryQueries.stats())

    expect(calls.map((c) => c.url)).toEqual([
      `${BASE}/profile?owner=admin`,
      `${BASE}/sources?kind=feed&offset=0&limit=25`,
      `${BASE}/sources?offset=25&limit=25`,
      `${BASE}/sources/s%2F1`,
      `${BASE}/consolidation-log?offset=0&limit=20`,
      `${BASE}/contradictions?state=pending&offset=0&limit=25`,
      `${BASE}/ingest/queue`,
      `${BASE}/ingest/dead-letters?offset=0&limit=20`,
      `${BASE}/stats`,
    ])
  })

  it('corrects the profile, runs consolidation and re-queues or drops a dead letter by its encoded id', async () => {
    const calls = stubApi((call) => (call.method === 'DELETE' ? json(null, 204) : {}))

    await memoryApi.correctProfile({ correction: 'I live in Lisbon now', owner: 'admin' })
    await memoryApi.consolidate()
    await memoryApi.requeueDeadLetter('sha256:ab12')
    await memoryApi.removeDeadLetter('sha256:ab12')

    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', `${BASE}/profile/correct`, { correction: 'I live in Lisbon now', owner: 'admin' }],
      ['POST', `${BASE}/consolidate`, undefined],
      ['POST', `${BASE}/ingest/dead-letters/sha256%3Aab12/requeue`, undefined],
      ['DELETE', `${BASE}/ingest/dead-letters/sha256%3Aab12`, undefined],
    ])
  })

  it("asks for one source's memories and never passes off another source's as its own", async () => {
    const calls = stubApi(() => ({ items: [memory('m-1', 's-1'), memory('m-2', 's-2'), memory('m-3', null)], total: 3, offset: 0, limit: 50 }))
    const client = new QueryClient()

    const page = await client.fetchQuery(memoryQueries.sourceMemories('s-1', { limit: 50 }))

    expect(calls[0]?.url).toBe(`${BASE}/browse?source_id=s-1&sort=created_at&order=desc&limit=50`)
    expect(page.items?.map((m) => m.id)).toEqual(['m-1'])
    expect(page.total).toBe(1)
  })
})
