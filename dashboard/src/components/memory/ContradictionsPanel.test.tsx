import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { Contradiction } from '../../api/memory'
import { Component as MemoryPage } from '../../pages/Memory'
import { notFound, stubApi } from '../../test/fetch'
import { renderPage } from '../../test/render'

const BASE = '/memory-api/api/v1/memories'

const moved: Contradiction = {
  id: 'c-1',
  memory_id: 'm-city',
  owner: 'admin',
  category: 'user',
  key: 'lives_in',
  previous_content: 'lives in Porto',
  new_content: 'lives in Lisbon',
  state: 'superseded',
  created_at: '2026-11-27T05:00:00Z',
}
const rumour: Contradiction = { ...moved, id: 'c-2', key: 'employer', previous_content: 'works at Acme', new_content: 'works at Globex', state: 'pending' }

describe('Memory page, Contradictions tab', () => {
  it('lists what Nova believed against what it heard, with what became of each', async () => {
    stubApi((call) => (call.url.startsWith(`${BASE}/contradictions`) ? { items: [moved, rumour], total: 2 } : notFound(call)))

    renderPage(<MemoryPage />, { path: '/memory?view=contradictions' })

    const list = await screen.findByRole('list', { name: 'Contradictions' })
    const [first, second] = within(list).getAllByRole('listitem')
    expect(within(first!).getByText('replaced the old value')).toBeTruthy()
    expect(within(first!).getByText('lives in Porto')).toBeTruthy()
    expect(within(first!).getByText('lives in Lisbon')).toBeTruthy()
    expect(within(first!).getByText('user · lives_in')).toBeTruthy()
    expect(within(second!).getByText('waiting for review')).toBeTruthy()
  })

  it('shows only the ones waiting for review when asked', async () => {
    const calls = stubApi((call) =>
      call.url.startsWith(`${BASE}/contradictions`) ? { items: call.url.includes('state=pending') ? [rumour] : [moved, rumour], total: 1 } : notFound(call),
    )
    renderPage(<MemoryPage />, { path: '/memory?view=contradictions' })
    await screen.findByText('lives in Porto')

    await userEvent.selectOptions(screen.getByLabelText('State'), 'pending')

    await waitFor(() => expect(screen.queryByText('lives in Porto')).toBeNull())
    expect(screen.getByText('works at Globex')).toBeTruthy()
    expect(calls.at(-1)?.url).toBe(`${BASE}/contradictions?state=pending&offset=0&limit=25`)
  })

  it('says so when nothing contradicted anything', async () => {
    stubApi(() => ({ items: [], total: 0 }))
    renderPage(<MemoryPage />, { path: '/memory?view=contradictions' })
    expect(await screen.findByText('No contradictions')).toBeTruthy()
  })
})
