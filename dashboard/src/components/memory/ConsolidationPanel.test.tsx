import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { ConsolidationRun } from '../../api/memory'
import { Component as MemoryPage } from '../../pages/Memory'
import { json, notFound, stubApi } from '../../test/fetch'
import { renderPage } from '../../test/render'

const BASE = '/memory-api/api/v1/memories'

const nightly: ConsolidationRun = {
  id: 'r-1',
  trigger: 'nightly',
  started_at: '2026-11-27T03:00:00Z',
  finished_at: '2026-11-27T03:00:02Z',
  merged: 3,
  summarised_clusters: 1,
  summaries_created: 1,
  decayed: 12,
  contradictions_resolved: 0,
}
const manual: ConsolidationRun = { ...nightly, id: 'r-2', trigger: 'manual', merged: 2, decayed: 0, summarised_clusters: 0, summaries_created: 0 }

describe('Memory page, Consolidation tab', () => {
  it('shows each run with its trigger and counts', async () => {
    stubApi((call) => (call.url.startsWith(`${BASE}/consolidation-log`) ? { items: [nightly], total: 1 } : notFound(call)))

    renderPage(<MemoryPage />, { path: '/memory?view=consolidation' })

    const table = await screen.findByRole('table', { name: 'Consolidation runs' })
    const row = within(table).getAllByRole('row')[1]!
    expect(within(row).getByText('nightly')).toBeTruthy()
    expect(within(row).getByText('2.0 s')).toBeTruthy()
    expect(within(row).getAllByRole('cell').slice(3).map((cell) => cell.textContent)).toEqual(['3', '1', '1', '12', '0'])
  })

  it('runs consolidation now, says what it did and puts the run at the top of the log', async () => {
    let runs = [nightly]
    const calls = stubApi((call) => {
      if (call.method === 'POST' && call.url === `${BASE}/consolidate`) {
        runs = [manual, ...runs]
        return manual
      }
      return call.url.startsWith(`${BASE}/consolidation-log`) ? { items: runs, total: runs.length } : notFound(call)
    })
    renderPage(<MemoryPage />, { path: '/memory?view=consolidation' })
    await screen.findByRole('table', { name: 'Consolidation runs' })

    await userEvent.click(screen.getByRole('button', { name: 'Run now' }))

    expect(await screen.findByText('Consolidation finished: merged 2 near-duplicates.')).toBeTruthy()
    await waitFor(() => expect(screen.getAllByRole('row')).toHaveLength(3))
    expect(within(screen.getAllByRole('row')[1]!).getByText('manual')).toBeTruthy()
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(1)
  })

  it('shows the refusal when a run cannot start', async () => {
    stubApi((call) =>
      call.method === 'POST'
        ? json({ detail: 'a consolidation run is already in progress' }, 409)
        : call.url.startsWith(`${BASE}/consolidation-log`)
          ? { items: [], total: 0 }
          : notFound(call),
    )
    renderPage(<MemoryPage />, { path: '/memory?view=consolidation' })
    expect(await screen.findByText('No consolidation runs yet')).toBeTruthy()

    await userEvent.click(screen.getByRole('button', { name: 'Run now' }))

    expect(await screen.findByText(/a consolidation run is already in progress/)).toBeTruthy()
  })
})
