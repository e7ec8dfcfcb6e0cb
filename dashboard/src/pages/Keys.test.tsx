import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { ApiKeyCreated, ApiKeyInfo } from '../api/keys'
import { json, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as KeysPage } from './Keys'

const ciKey: ApiKeyInfo = {
  id: 'k-1',
  name: 'ci',
  key_prefix: 'sk-nova-abc123',
  rate_limit_rpm: 60,
  created_at: '2026-11-27T05:00:00Z',
  last_used_at: null,
}

describe('Keys page', () => {
  it('lists keys with their prefix and says when there are none', async () => {
    stubApi(() => [])
    const { unmount } = renderPage(<KeysPage />, { path: '/keys' })
    expect(await screen.findByText('No API keys yet')).toBeTruthy()
    unmount()

    stubApi(() => [ciKey, { ...ciKey, id: 'k-2', name: 'old', revoked_at: '2026-11-27T06:00:00Z' }])
    renderPage(<KeysPage />, { path: '/keys' })
    const table = await screen.findByRole('table', { name: 'API keys' })
    expect(within(table).getAllByText('sk-nova-abc123…')).toHaveLength(2)
    expect(within(table).getByText('revoked')).toBeTruthy()
    // A revoked key cannot be revoked again.
    expect(within(table).getAllByRole('button', { name: /Revoke/ })).toHaveLength(1)
  })

  it('creates a key and shows the secret once', async () => {
    let keys: ApiKeyInfo[] = []
    const created: ApiKeyCreated = { ...ciKey, id: 'k-9', name: 'deploy-bot', rate_limit_rpm: 120, key: 'sk-nova-abc123SECRET', raw_key: 'sk-nova-abc123SECRET' }
    const calls = stubApi((call) => {
      if (call.method === 'POST') {
        keys = [created]
        return json(created, 201)
      }
      return keys
    })
    renderPage(<KeysPage />, { path: '/keys' })
    await screen.findByText('No API keys yet')

    await userEvent.type(screen.getByLabelText('Name'), 'deploy-bot')
    await userEvent.clear(screen.getByLabelText('Requests per minute'))
    await userEvent.type(screen.getByLabelText('Requests per minute'), '120')
    await userEvent.click(screen.getByRole('button', { name: 'Create key' }))

    expect((await screen.findByTestId('new-api-key')).textContent).toBe('sk-nova-abc123SECRET')
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'deploy-bot', rate_limit_rpm: 120, expires_at: null })
    expect(await screen.findByText('deploy-bot')).toBeTruthy()

    await userEvent.click(screen.getByRole('button', { name: 'I have saved it' }))
    expect(screen.queryByText('sk-nova-abc123SECRET')).toBeNull()
    expect(screen.getByRole('button', { name: 'Create key' })).toBeTruthy()
  })

  it('checks the name and limit before sending', async () => {
    const calls = stubApi(() => [])
    renderPage(<KeysPage />, { path: '/keys' })
    await screen.findByText('No API keys yet')

    await userEvent.clear(screen.getByLabelText('Requests per minute'))
    await userEvent.type(screen.getByLabelText('Requests per minute'), '0')
    await userEvent.click(screen.getByRole('button', { name: 'Create key' }))

    expect(screen.getByText(/Give the key a name/)).toBeTruthy()
    expect(screen.getByText('A whole number from 1 to 100,000.')).toBeTruthy()
    expect(screen.getByLabelText('Name').getAttribute('aria-invalid')).toBe('true')
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
  })

  it("shows the server's refusal and keeps what was typed", async () => {
    stubApi((call) => (call.method === 'POST' ? json({ detail: 'a key named "ci" already exists' }, 409) : []))
    renderPage(<KeysPage />, { path: '/keys' })
    await screen.findByText('No API keys yet')

    await userEvent.type(screen.getByLabelText('Name'), 'ci')
    await userEvent.click(screen.getByRole('button', { name: 'Create key' }))

    expect(await screen.findByText('a key named "ci" already exists')).toBeTruthy()
    expect((screen.getByLabelText('Name') as HTMLInputElement).value).toBe('ci')
  })

  it('revokes a key after confirmation', async () => {
    let keys: ApiKeyInfo[] = [ciKey]
    const calls = stubApi((call) => {
      if (call.method === 'DELETE') {
        keys = [{ ...ciKey, revoked_at: '2026-11-27T07:00:00Z' }]
        return json(null, 204)
      }
      return keys
    })
    renderPage(<KeysPage />, { path: '/keys' })

    await userEvent.click(await screen.findByRole('button', { name: 'Revoke ci' }))
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Revoke key' }))

    expect(await screen.findByText('revoked')).toBeTruthy()
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(calls.find((c) => c.method === 'DELETE')?.url).toBe('/api/v1/keys/k-1')
  })
})
