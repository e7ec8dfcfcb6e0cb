import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { Memory, Source } from '../../api/memory'
import { Component as MemoryPage } from '../../pages/Memory'
import { json, notFound, stubApi } from '../../test/fetch'
import { renderPage } from '../../test/render'

const BASE = '/memory-api/api/v1/memories'

const feed: Source = {
  id: 's-feed',
  kind: 'feed',
  title: 'Release notes',
  uri: 'https://example.org/releases',
  author: 'Ada',
  content_hash: 'f00d',
  trust: 0.5,
  owner: 'admin',
  ingested_at: '2026-11-27T05:00:00Z',
  memory_count: 1,
}
const crawl: Source = { ...feed, id: 's-crawl', kind: 'crawl', title: null, uri: 'javascript:alert(1)', author: null, memory_count: 0 }

const fromFeed: Memory = {
  id: 'm-1',
  content: 'Version 2 drops Python 3.10',
  tier: 'semantic',
  owner: 'admin',
  shared: false,
  importance: 0.7,
  confidence: 0.9,
  access_count: 0,
  embedded: true,
  source_id: 's-feed',
  created_at: '2026-11-27T05:00:00Z',
  updated_at: '2026-11-27T05:00:00Z',
}

function answer(url: string) {
  if (url.startsWith(`${BASE}/sources/s-feed`)) return feed
  if (url.startsWith(`${BASE}/sources`)) {
    const items = url.includes('kind=crawl') ? [crawl] : [feed, crawl]
    return { items, total: items.length, offset: 0, limit: 25 }
  }
  if (url.startsWith(`${BASE}/browse`)) return { items: [fromFeed], total: 1, offset: 0, limit: 50 }
  return null
}

describe('Memory page, Sources tab', () => {
  it('lists sources with their kind, trust and how many memories each gave, filtered by kind', async () => {
    const calls = stubApi((call) => answer(call.url) ?? notFound(call))
    renderPage(<MemoryPage />, { path: '/memory?view=sources' })

    const list = await screen.findByRole('list', { name: 'Sources' })
    expect(within(list).getByRole('link', { name: 'Release notes' }).getAttribute('href')).toBe('https://example.org/releases')
    expect(within(list).getByText(/1 memory · ingested .* · by Ada/)).toBeTruthy()
    // An address that is not a web page is shown, never made a link.
    expect(within(list).getByText('javascript:alert(1)').closest('a')).toBeNull()

    await userEvent.selectOptions(screen.getByLabelText('Kind'), 'crawl')

    await waitFor(() => expect(screen.queryByText('Release notes')).toBeNull())
    expect(calls.at(-1)?.url).toBe(`${BASE}/sources?kind=crawl&offset=0&limit=25`)
  })

  it('opens a source to show where it came from and the memories formed from it', async () => {
    const calls = stubApi((call) => answer(call.url) ?? notFound(call))
    renderPage(<MemoryPage />, { path: '/memory?view=sources' })

    await userEvent.click(await screen.findByRole('button', { name: 'Open source Release notes' }))

    const dialog = await screen.findByRole('dialog', { name: 'Source' })
    const memories = await within(dialog).findByRole('list', { name: 'Memories from this source' })
    expect(within(memories).getByText('Version 2 drops Python 3.10')).toBeTruthy()
    expect(within(dialog).getByText('f00d')).toBeTruthy()
    expect(calls.some((c) => c.url === `${BASE}/browse?source_id=s-feed&sort=created_at&order=desc&limit=50`)).toBe(true)

    await userEvent.click(within(dialog).getByRole('button', { name: 'Close' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
  })

  it('opens the source a link names, and says so when it no longer exists', async () => {
    stubApi((call) => (call.url.startsWith(`${BASE}/sources/gone`) ? json({ detail: 'source gone not found' }, 404) : (answer(call.url) ?? notFound(call))))

    renderPage(<MemoryPage />, { path: '/memory?view=sources&source=gone' })

    const dialog = await screen.findByRole('dialog', { name: 'Source' })
    expect(await within(dialog).findByText(/source gone not found/)).toBeTruthy()
  })

  it('says so when there are no sources yet', async () => {
    stubApi(() => ({ items: [], total: 0, offset: 0, limit: 25 }))
    renderPage(<MemoryPage />, { path: '/memory?view=sources' })
    expect(await screen.findByText('No sources yet')).toBeTruthy()
  })
})
