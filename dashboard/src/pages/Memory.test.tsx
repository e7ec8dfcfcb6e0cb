import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Route, Routes, useLocation } from 'react-router'
import { describe, expect, it } from 'vitest'

import type { Memory as MemoryRecord, MemorySearchResponse } from '../api/memory'
import { json, notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as MemoryPage } from './Memory'

const BASE = '/memory-api/api/v1/memories'

function Location() {
  return <p data-testid="location">{useLocation().search}</p>
}

function memory(overrides: Partial<MemoryRecord> & Pick<MemoryRecord, 'id' | 'content'>): MemoryRecord {
  return {
    tier: 'semantic',
    owner: 'admin',
    shared: false,
    importance: 0.5,
    confidence: 0.9,
    access_count: 0,
    embedded: true,
    created_at: '2026-11-27T05:00:00Z',
    updated_at: '2026-11-27T05:00:00Z',
    ...overrides,
  }
}

const auth = memory({ id: 'm-1', content: 'The auth module hashes passwords with bcrypt', project_id: 'nova' })
const deploy = memory({ id: 'm-2', content: 'Deploys go out on Tuesdays', tier: 'episodic' })

describe('Memory page', () => {
  it('browses every tier by default and says how many there are', async () => {
    const calls = stubApi((call) =>
      call.url.startsWith(`${BASE}/browse`) ? { items: [auth, deploy], total: 2, offset: 0, limit: 25 } : notFound(call),
    )

    renderPage(<MemoryPage />, { path: '/memory' })

    expect(await screen.findByText('The auth module hashes passwords with bcrypt')).toBeTruthy()
    expect(screen.getByText('Deploys go out on Tuesdays')).toBeTruthy()
    expect(screen.getByText('1–2 of 2')).toBeTruthy()
    expect(calls[0]?.url).toBe(`${BASE}/browse?sort=created_at&order=desc&offset=0&limit=25`)
  })

  it('asks for one tier when a tier is picked', async () => {
    const calls = stubApi((call) => ({ items: call.url.includes('tier=episodic') ? [deploy] : [auth, deploy], total: 1, offset: 0, limit: 25 }))
    renderPage(<MemoryPage />, { path: '/memory' })
    await screen.findByText('Deploys go out on Tuesdays')

    await userEvent.click(screen.getByLabelText('episodic'))

    await waitFor(() => expect(screen.queryByText('The auth module hashes passwords with bcrypt')).toBeNull())
    expect(calls.at(-1)?.url).toContain('tier=episodic')
  })

  it('says so when there are no memories', async () => {
    stubApi(() => ({ items: [], total: 0, offset: 0, limit: 25 }))

    renderPage(<MemoryPage />, { path: '/memory' })

    expect(await screen.findByText('No memories yet')).toBeTruthy()
  })

  it('shows the service refusal with a retry when browsing fails', async () => {
    let fail = true
    stubApi(() => (fail ? json({ detail: 'memory-service is not reachable' }, 502) : { items: [auth], total: 1, offset: 0, limit: 25 }))
    renderPage(<MemoryPage />, { path: '/memory' })

    const alert = await screen.findByRole('alert')
    expect(within(alert).getByText(/memory-service is not reachable/)).toBeTruthy()

    fail = false
    await userEvent.click(within(alert).getByRole('button', { name: 'Retry' }))
    expect(await screen.findByText('The auth module hashes passwords with bcrypt')).toBeTruthy()
  })

  it('runs a hybrid search and shows each hit with its scores', async () => {
    const response: MemorySearchResponse = {
      hits: [{ memory: auth, score: 0.8123, vector_score: 0.7, keyword_score: 0.5, rank: 1 }],
      fusion: 'weighted',
      keyword_only_fallback: false,
      embedding_model: 'all-minilm-l6-v2',
      took_ms: 12.4,
    }
    const calls = stubApi((call) =>
      call.method === 'POST' && call.url === `${BASE}/search` ? response : { items: [auth, deploy], total: 2, offset: 0, limit: 25 },
    )
    renderPage(<MemoryPage />, { path: '/memory' })
    await screen.findByText('Deploys go out on Tuesdays')

    await userEvent.type(screen.getByLabelText('Search memories'), 'password hashing{Enter}')

    const results = await screen.findByRole('list', { name: 'Search results' })
    const scores = within(results).getByLabelText('Scores')
    expect(within(scores).getByText('0.812')).toBeTruthy()
    expect(within(scores).getByText('0.700')).toBeTruthy()
    expect(within(scores).getByText('0.500')).toBeTruthy()
    expect(screen.queryByText('Deploys go out on Tuesdays')).toBeNull()
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ query: 'password hashing', tiers: null, fusion: null, limit: 25 })
  })

  it('refuses an empty search without asking the service', async () => {
    const calls = stubApi(() => ({ items: [auth], total: 1, offset: 0, limit: 25 }))
    renderPage(<MemoryPage />, { path: '/memory' })
    await screen.findByText('The auth module hashes passwords with bcrypt')

    await userEvent.click(screen.getByRole('button', { name: 'Search' }))

    expect(screen.getByText('Type what to search for.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
  })

  it('saves only the fields that changed, and keeps the edit when the service refuses it', async () => {
    let refuse = true
    const calls = stubApi((call) => {
      if (call.method === 'PATCH') {
        return refuse ? json({ detail: 'only working memories expire; tier is semantic' }, 400) : { ...auth, content: 'edited' }
      }
      return { items: [auth], total: 1, offset: 0, limit: 25 }
    })
    renderPage(<MemoryPage />, { path: '/memory' })
    await userEvent.click(await screen.findByRole('button', { name: 'Edit memory m-1' }))

    const dialog = screen.getByRole('dialog', { name: 'Edit memory' })
    const content = within(dialog).getByLabelText('Content')
    await userEvent.clear(content)
    await userEvent.type(content, 'Passwords use bcrypt with cost 12')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }))

    expect(await within(dialog).findByText('only working memories expire; tier is semantic')).toBeTruthy()
    expect((within(dialog).getByLabelText('Content') as HTMLTextAreaElement).value).toBe('Passwords use bcrypt with cost 12')
    expect(calls.find((c) => c.method === 'PATCH')).toMatchObject({
      url: `${BASE}/m-1`,
      body: { content: 'Passwords use bcrypt with cost 12' },
    })

    refuse = false
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(await screen.findByText('Memory saved')).toBeTruthy()
  })

  it('validates confidence before sending', async () => {
    const calls = stubApi(() => ({ items: [auth], total: 1, offset: 0, limit: 25 }))
    renderPage(<MemoryPage />, { path: '/memory' })
    await userEvent.click(await screen.findByRole('button', { name: 'Edit memory m-1' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit memory' })

    await userEvent.clear(within(dialog).getByLabelText('Confidence'))
    await userEvent.type(within(dialog).getByLabelText('Confidence'), '7')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }))

    expect(within(dialog).getByText('A number from 0 to 1.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false)
  })

  it('deletes a memory after confirmation and reloads the list', async () => {
    let items = [auth, deploy]
    const calls = stubApi((call) => {
      if (call.method === 'DELETE') {
        items = items.filter((m) => !call.url.endsWith(m.id))
        return json(null, 204)
      }
      return { items, total: items.length, offset: 0, limit: 25 }
    })
    renderPage(<MemoryPage />, { path: '/memory' })

    await userEvent.click(await screen.findByRole('button', { name: 'Delete memory m-2' }))
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete memory' }))

    await waitFor(() => expect(screen.queryByText('Deploys go out on Tuesdays')).toBeNull())
    expect(calls.find((c) => c.method === 'DELETE')?.url).toBe(`${BASE}/m-2`)
  })

  it('switches between its views with the tabs, the arrow keys included, keeping the view in the address', async () => {
    const calls = stubApi((call) => {
      if (call.url.startsWith(`${BASE}/browse`)) return { items: [auth], total: 1, offset: 0, limit: 25 }
      if (call.url.startsWith(`${BASE}/profile`)) return { owner: 'admin', facts: [], preferences: [] }
      if (call.url.startsWith(`${BASE}/sources`)) return { items: [], total: 0, offset: 0, limit: 25 }
      return notFound(call)
    })
    renderPage(
      <Routes>
        <Route path="/memory" element={<><MemoryPage /><Location /></>} />
      </Routes>,
      { path: '/memory' },
    )
    expect(await screen.findByText('The auth module hashes passwords with bcrypt')).toBeTruthy()
    expect(screen.getByRole('tab', { name: 'Memories' }).getAttribute('aria-selected')).toBe('true')

    await userEvent.click(screen.getByRole('tab', { name: 'Profile' }))
    expect(await screen.findByText('No facts')).toBeTruthy()
    expect(screen.getByTestId('location').textContent).toBe('?view=profile')

    await userEvent.keyboard('{ArrowRight}')
    expect(await screen.findByText('No sources yet')).toBeTruthy()
    expect(document.activeElement).toBe(screen.getByRole('tab', { name: 'Sources' }))
    expect(screen.getByTestId('location').textContent).toBe('?view=sources')
    expect(calls.some((c) => c.url.startsWith(`${BASE}/sources`))).toBe(true)
  })

  it("shows where a memory came from in its detail, looking the source up by id when the list did not send it", async () => {
    const formed = memory({ id: 'm-3', content: 'The user lives in Lisbon', source_id: 's-fix' })
    const calls = stubApi((call) => {
      if (call.url === `${BASE}/sources/s-fix`) {
        return { id: 's-fix', kind: 'correction', title: 'Profile correction', content_hash: 'c0', trust: 1, owner: 'admin', ingested_at: '2026-11-27T05:00:00Z', memory_count: 1 }
      }
      if (call.url.startsWith(`${BASE}/browse`)) return { items: [formed, auth], total: 2, offset: 0, limit: 25 }
      if (call.url.endsWith('/history')) return { memory_id: 'm-3', revisions: [], merges: [] }
      return notFound(call)
    })
    renderPage(<MemoryPage />, { path: '/memory' })

    await userEvent.click(await screen.findByRole('button', { name: 'View memory m-3' }))

    const dialog = screen.getByRole('dialog', { name: 'Memory' })
    expect(screen.getByRole('link', { name: 'Source of memory m-3' }).getAttribute('href')).toBe('/memory?view=sources&source=s-fix')
    const link = await within(dialog).findByRole('link', { name: 'Profile correction' })
    expect(link.getAttribute('href')).toBe('/memory?view=sources&source=s-fix')
    expect(within(dialog).getByText('trust 1.00')).toBeTruthy()
    // Reading the memory itself would count as an access; the source is asked for instead.
    expect(calls.some((c) => c.url === `${BASE}/m-3`)).toBe(false)

    await userEvent.click(within(dialog).getByRole('button', { name: 'Close' }))
    await userEvent.click(screen.getByRole('button', { name: 'View memory m-1' }))
    expect(await within(screen.getByRole('dialog', { name: 'Memory' })).findByText(/not recorded/)).toBeTruthy()
  })
})
