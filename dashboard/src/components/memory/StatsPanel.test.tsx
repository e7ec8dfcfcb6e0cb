import { screen, within } from '@testing-library/react'
import { describe, expect, it } from 'vitest'

import type { MemoryStats } from '../../api/memory'
import { Component as MemoryPage } from '../../pages/Memory'
import { json, notFound, stubApi } from '../../test/fetch'
import { renderPage } from '../../test/render'

const BASE = '/memory-api/api/v1/memories'

const stats: MemoryStats = {
  by_tier: { semantic: 120, episodic: 40 },
  by_source_kind: { chat: 90, feed: 70, none: 5 },
  unextracted: 2,
  queue: { queued: 3, processing: 1, dead_letters: 0 },
  last_consolidation: {
    id: 'r-1',
    trigger: 'idle',
    started_at: '2026-11-27T05:00:00Z',
    finished_at: '2026-11-27T05:00:01Z',
    merged: 2,
    summarised_clusters: 0,
    summaries_created: 0,
    decayed: 0,
    contradictions_resolved: 1,
  },
  retrievals: 50,
  retrievals_with_feedback: 40,
  usage_rate: 0.375,
}

function row(list: HTMLElement, name: string): string | null | undefined {
  return within(list).getByText(name).nextSibling?.textContent
}

describe('Memory page, Stats tab', () => {
  it('shows counts by tier (every tier, zero included) and by source, recall usage, the queue and the last consolidation', async () => {
    stubApi((call) => (call.url === `${BASE}/stats` ? stats : notFound(call)))

    renderPage(<MemoryPage />, { path: '/memory?view=stats' })

    const tiers = await screen.findByLabelText('Memories by tier')
    expect(row(tiers, 'semantic')).toBe('120')
    expect(row(tiers, 'working')).toBe('0')
    expect(row(screen.getByLabelText('Memories by source kind'), 'chat')).toBe('90')
    expect(row(screen.getByLabelText('Memories by source kind'), 'no source recorded')).toBe('5')
    expect(row(screen.getByLabelText('Ingestion queue'), 'waiting')).toBe('3')
    expect(screen.getByText('38% of recalled memories were used')).toBeTruthy()
    expect(screen.getByText(/merged 2 near-duplicates, resolved 1 contradiction\b/)).toBeTruthy()
    expect(screen.getByText(/2 kept as plain episodes/)).toBeTruthy()
  })

  it('says usage is not measured before any feedback, and that consolidation never ran', async () => {
    stubApi(() => ({ ...stats, usage_rate: null, last_consolidation: null, unextracted: 0 }))
    renderPage(<MemoryPage />, { path: '/memory?view=stats' })

    expect(await screen.findByText('not measured yet')).toBeTruthy()
    expect(screen.getByText(/Last consolidation:/).textContent).toContain('never')
  })

  it('shows the refusal when memory-service cannot answer', async () => {
    stubApi(() => json({ detail: 'memory-service is not reachable' }, 502))
    renderPage(<MemoryPage />, { path: '/memory?view=stats' })
    expect(await screen.findByText(/memory-service is not reachable/)).toBeTruthy()
  })
})
