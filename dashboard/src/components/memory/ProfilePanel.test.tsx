import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { Profile, Source } from '../../api/memory'
import { Component as MemoryPage } from '../../pages/Memory'
import { json, notFound, stubApi } from '../../test/fetch'
import { renderPage } from '../../test/render'

const BASE = '/memory-api/api/v1/memories'

const chat: Source = {
  id: 's-chat',
  kind: 'chat',
  title: 'Chat with Orion',
  content_hash: 'ab',
  trust: 0.6,
  owner: 'admin',
  ingested_at: '2026-11-27T05:00:00Z',
  memory_count: 2,
}

function profile(city: string): Profile {
  return {
    owner: 'admin',
    facts: [
      {
        memory_id: 'm-city',
        kind: 'fact',
        subject: 'user',
        attribute: 'lives in',
        content: `The user lives in ${city}`,
        confidence: 0.8,
        importance: 0.6,
        source: chat,
        updated_at: '2026-11-27T05:00:00Z',
      },
    ],
    preferences: [
      {
        memory_id: 'm-tea',
        kind: 'preference',
        content: 'Prefers green tea',
        confidence: 0.55,
        importance: 0.5,
        source: null,
        updated_at: '2026-11-27T05:00:00Z',
      },
    ],
  }
}

describe('Memory page, Profile tab', () => {
  it('lists facts and preferences with how sure Nova is and where each belief came from', async () => {
    const calls = stubApi((call) => (call.url.startsWith(`${BASE}/profile`) ? profile('Porto') : notFound(call)))

    renderPage(<MemoryPage />, { path: '/memory?view=profile' })

    const facts = await screen.findByRole('list', { name: 'Facts' })
    expect(within(facts).getByText('The user lives in Porto')).toBeTruthy()
    expect(within(facts).getByText('80% sure')).toBeTruthy()
    expect(within(facts).getByText('user · lives in')).toBeTruthy()
    expect(within(facts).getByRole('link', { name: 'Chat with Orion' }).getAttribute('href')).toBe('/memory?view=sources&source=s-chat')
    const preferences = screen.getByRole('list', { name: 'Preferences' })
    expect(within(preferences).getByText('Prefers green tea')).toBeTruthy()
    expect(within(preferences).getByText('source unknown')).toBeTruthy()
    expect(screen.getByRole('tab', { name: 'Profile' }).getAttribute('aria-selected')).toBe('true')
    expect(calls.find((c) => c.url.startsWith(`${BASE}/profile`))?.url).toBe(`${BASE}/profile?owner=admin`)
  })

  it("shows and corrects what Nova learnt from one API key's callers when that key is picked", async () => {
    const key = { id: '0B7E3F0E-5F0C-4C1E-9A4E-2F1D9C3B8A71', name: 'laptop', key_prefix: 'nova_ab', rate_limit_rpm: 60, created_at: '2026-11-27T05:00:00Z' }
    const owner = 'key:0b7e3f0e-5f0c-4c1e-9a4e-2f1d9c3b8a71'
    const calls = stubApi((call) => {
      if (call.url === '/api/v1/keys') return [key]
      if (call.method === 'POST') return { item_id: 'i-1', source_id: 's-fix', created: ['m-1'] }
      if (call.url.startsWith(`${BASE}/profile`)) return call.url.includes('owner=key') ? { owner, facts: [], preferences: [] } : profile('Porto')
      return notFound(call)
    })
    renderPage(<MemoryPage />, { path: '/memory?view=profile' })
    await screen.findByText('The user lives in Porto')

    await userEvent.selectOptions(screen.getByLabelText('Whose profile'), await screen.findByRole('option', { name: 'API key laptop (nova_ab…)' }))

    expect(await screen.findByText('No facts')).toBeTruthy()
    expect(calls.at(-1)?.url).toBe(`${BASE}/profile?owner=${encodeURIComponent(owner)}`)
    await userEvent.type(screen.getByLabelText('What is true'), 'I work from Berlin')
    await userEvent.click(screen.getByRole('button', { name: 'Save correction' }))
    await waitFor(() => expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ correction: 'I work from Berlin', owner }))
  })

  it('corrects a belief in plain words and shows the profile as it is afterwards', async () => {
    let city = 'Porto'
    const calls = stubApi((call) => {
      if (call.method === 'POST' && call.url === `${BASE}/profile/correct`) {
        city = 'Lisbon'
        return { item_id: 'i-1', source_id: 's-fix', created: ['m-new'], superseded: ['m-city'], reinforced: [], contradictions: [] }
      }
      return call.url.startsWith(`${BASE}/profile`) ? profile(city) : notFound(call)
    })
    renderPage(<MemoryPage />, { path: '/memory?view=profile' })

    await userEvent.click(await screen.findByRole('button', { name: 'Correct: The user lives in Porto' }))
    const dialog = screen.getByRole('dialog', { name: 'Correct this belief' })
    expect(within(dialog).getByText('The user lives in Porto')).toBeTruthy()
    await userEvent.type(within(dialog).getByLabelText('What is true'), 'I moved to Lisbon last month.')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save correction' }))

    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(await screen.findByText('Correction saved: 1 belief replaced, 1 new.')).toBeTruthy()
    expect(await screen.findByText('The user lives in Lisbon')).toBeTruthy()
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ correction: 'I moved to Lisbon last month.', owner: 'admin' })
  })

  it('refuses an empty correction without asking, and keeps the text when the service refuses it', async () => {
    const calls = stubApi((call) =>
      call.method === 'POST' ? json({ detail: 'llm-gateway is not reachable' }, 503) : call.url.startsWith(`${BASE}/profile`) ? profile('Porto') : notFound(call),
    )
    renderPage(<MemoryPage />, { path: '/memory?view=profile' })
    await screen.findByText('The user lives in Porto')

    await userEvent.click(screen.getAllByRole('button', { name: 'Save correction' })[0]!)
    expect(screen.getByText('Say what is true, in your own words.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)

    await userEvent.type(screen.getByLabelText('What is true'), 'I drink coffee now')
    await userEvent.click(screen.getByRole('button', { name: 'Save correction' }))

    expect(await screen.findByText('llm-gateway is not reachable')).toBeTruthy()
    expect((screen.getByLabelText('What is true') as HTMLTextAreaElement).value).toBe('I drink coffee now')
  })

  it('says plainly when the model could not read a fact from the correction', async () => {
    stubApi((call) =>
      call.method === 'POST'
        ? { item_id: 'i-1', source_id: 's-fix', created: ['m-note'], unextracted: true }
        : call.url.startsWith(`${BASE}/profile`)
          ? profile('Porto')
          : notFound(call),
    )
    renderPage(<MemoryPage />, { path: '/memory?view=profile' })
    await screen.findByText('The user lives in Porto')

    await userEvent.type(screen.getByLabelText('What is true'), 'asdf')
    await userEvent.click(screen.getByRole('button', { name: 'Save correction' }))

    expect(await screen.findByText(/Saved as a note: the model could not read a fact from it/)).toBeTruthy()
  })
})
