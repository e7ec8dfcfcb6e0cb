import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { IngestDeadLetter } from '../../api/memory'
import { Component as MemoryPage } from '../../pages/Memory'
import { json, notFound, stubApi, type Call } from '../../test/fetch'
import { renderPage } from '../../test/render'

const BASE = '/memory-api/api/v1/memories'

const poison: IngestDeadLetter = {
  id: '7f1c2a34-0000-4000-8000-000000000001',
  attempts: 3,
  error: 'extraction failed: the model answered 500',
  failed_at: '2026-11-27T05:00:00Z',
  payload: '{"content": "I moved to Lisbon"}',
}
const unreadable: IngestDeadLetter = { ...poison, id: 'sha256:9a8b', attempts: 1, error: 'not a valid ingestion item', payload: 'garbage' }

/** memory-service's queue and dead letters, with requeue and delete acting on them like the real routes. */
function queueStub(refuseRequeue = false) {
  let letters = [poison, unreadable]
  let queued = 4
  return stubApi((call: Call) => {
    const id = decodeURIComponent(call.url.split('/dead-letters/')[1]?.replace(/\/requeue$/, '') ?? '')
    if (call.method === 'POST' && call.url.endsWith('/requeue')) {
      if (refuseRequeue) return json({ detail: `dead letter ${id} not found` }, 404)
      letters = letters.filter((l) => l.id !== id)
      queued += 1
      return poison
    }
    if (call.method === 'DELETE') {
      letters = letters.filter((l) => l.id !== id)
      return json(null, 204)
    }
    if (call.url === `${BASE}/ingest/queue`) return { queued, processing: 1, dead_letters: letters.length }
    if (call.url.startsWith(`${BASE}/ingest/dead-letters`)) return { items: letters, total: letters.length }
    return notFound(call)
  })
}

describe('Memory page, Ingestion tab', () => {
  it('shows the queue depth and each dead letter with its error, attempts and payload', async () => {
    queueStub()
    renderPage(<MemoryPage />, { path: '/memory?view=ingestion' })

    const tiles = await screen.findByLabelText('Queue depth')
    expect(within(tiles).getByText('Waiting').nextSibling?.textContent).toBe('4')
    expect(within(tiles).getByText('Being formed').nextSibling?.textContent).toBe('1')
    expect(within(tiles).getByText('Dead letters').nextSibling?.textContent).toBe('2')
    const list = await screen.findByRole('list', { name: 'Dead letters' })
    expect(within(list).getByText('extraction failed: the model answered 500')).toBeTruthy()
    expect(within(list).getByText(/3 attempts/)).toBeTruthy()
    expect(within(list).getByText('{"content": "I moved to Lisbon"}')).toBeTruthy()
  })

  it('re-queues a dead letter: it leaves the list and the queue grows', async () => {
    const calls = queueStub()
    renderPage(<MemoryPage />, { path: '/memory?view=ingestion' })

    await userEvent.click(await screen.findByRole('button', { name: `Re-queue ${poison.id}` }))

    await waitFor(() => expect(screen.queryByText('extraction failed: the model answered 500')).toBeNull())
    expect(await screen.findByText('Put back in the queue with a fresh set of attempts')).toBeTruthy()
    await waitFor(() => expect(within(screen.getByLabelText('Queue depth')).getByText('Waiting').nextSibling?.textContent).toBe('5'))
    expect(calls.find((c) => c.method === 'POST')?.url).toBe(`${BASE}/ingest/dead-letters/${poison.id}/requeue`)
  })

  it('drops a dead letter only after confirmation, its id encoded', async () => {
    const calls = queueStub()
    renderPage(<MemoryPage />, { path: '/memory?view=ingestion' })

    await userEvent.click(await screen.findByRole('button', { name: 'Delete sha256:9a8b' }))
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Drop dead letter' }))

    await waitFor(() => expect(screen.queryByText('not a valid ingestion item')).toBeNull())
    expect(calls.find((c) => c.method === 'DELETE')?.url).toBe(`${BASE}/ingest/dead-letters/sha256%3A9a8b`)
  })

  it('says why a re-queue was refused and keeps the letter listed', async () => {
    queueStub(true)
    renderPage(<MemoryPage />, { path: '/memory?view=ingestion' })

    await userEvent.click(await screen.findByRole('button', { name: `Re-queue ${poison.id}` }))

    expect(await screen.findByText(`Could not re-queue ${poison.id}: dead letter ${poison.id} not found`)).toBeTruthy()
    expect(screen.getByText('extraction failed: the model answered 500')).toBeTruthy()
  })
})
