import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { ADMIN_SECRET_STORAGE_KEY } from '../api/client'
import type { ConfigEntry } from '../api/config'
import { json, notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as SettingsPage, docsUrl } from './Settings'

const OLD_SECRET = 'old-admin-secret-0123456789'

function entry(key: string, value: unknown): ConfigEntry {
  return { key, value, is_secret: false, is_set: false }
}

const defaults: ConfigEntry[] = [
  entry('nova.name', 'Nova'),
  entry('nova.greeting', "Hello! I'm {name}."),
  entry('nova.persona', 'Direct.'),
  entry('context.system_pct', 10),
  entry('context.tools_pct', 15),
  entry('context.memory_pct', 40),
  entry('context.history_pct', 20),
  entry('context.working_pct', 15),
  entry('llm.default_chat_model', null),
  entry('sandbox.default_tier', null),
]

const overview = {
  services: [
    { name: 'orchestrator', url: 'http://127.0.0.1:38000', port: 8000, state: 'ready' },
    { name: 'chat-bridge', url: 'http://127.0.0.1:38090', port: 8090, profile: 'bridges', state: 'disabled' },
  ],
  ready: 1,
  total: 1,
}

function api(onPatch: (key: string, value: unknown) => Response | unknown = () => undefined) {
  return stubApi((call) => {
    if (call.url === '/api/v1/config') return defaults
    if (call.method === 'PATCH') {
      const key = call.url.split('/').pop()!
      const value = (call.body as { value: unknown }).value
      return onPatch(key, value) ?? entry(key, value)
    }
    if (call.url.startsWith('/recovery-api/')) return overview
    return notFound(call)
  })
}

describe('Settings page', () => {
  it("saves only the identity fields that changed", async () => {
    const calls = api()
    renderPage(<SettingsPage />, { path: '/settings' })

    const name = await screen.findByLabelText('Name')
    await userEvent.clear(name)
    await userEvent.type(name, 'Orion')
    await userEvent.click(screen.getByRole('button', { name: 'Save identity' }))

    expect(await screen.findByText('Identity saved')).toBeTruthy()
    const patches = calls.filter((c) => c.method === 'PATCH')
    expect(patches.map((c) => [c.url, c.body])).toEqual([['/api/v1/config/nova.name', { value: 'Orion' }]])
  })

  it("refuses an empty name and shows the server's refusal of a greeting", async () => {
    const calls = api((key) => (key === 'nova.greeting' ? json({ detail: 'invalid value for nova.greeting: too long' }, 400) : undefined))
    renderPage(<SettingsPage />, { path: '/settings' })

    const name = await screen.findByLabelText('Name')
    await userEvent.clear(name)
    await userEvent.click(screen.getByRole('button', { name: 'Save identity' }))
    expect(screen.getByText('The AI needs a name.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false)

    await userEvent.type(name, 'Nova')
    await userEvent.type(screen.getByLabelText('Greeting'), ' Welcome back.')
    await userEvent.click(screen.getByRole('button', { name: 'Save identity' }))
    expect(await screen.findByText('invalid value for nova.greeting: too long')).toBeTruthy()
    expect((screen.getByLabelText('Greeting') as HTMLTextAreaElement).value).toBe("Hello! I'm {name}. Welcome back.")
  })

  it('saves context budgets only at 100 %, shrinking shares before growing others', async () => {
    const calls = api()
    renderPage(<SettingsPage />, { path: '/settings' })

    const memory = await screen.findByLabelText('memory')
    fireEvent.change(memory, { target: { value: '50' } })
    expect(screen.getByText(/Total 110 % — remove 10 % to save/)).toBeTruthy()
    expect((screen.getByRole('button', { name: 'Save budgets' }) as HTMLButtonElement).disabled).toBe(true)

    fireEvent.change(screen.getByLabelText('history'), { target: { value: '10' } })
    expect(screen.getByText('Total 100 %')).toBeTruthy()
    await userEvent.click(screen.getByRole('button', { name: 'Save budgets' }))

    await waitFor(() => expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(2))
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => c.url)).toEqual([
      '/api/v1/config/context.history_pct',
      '/api/v1/config/context.memory_pct',
    ])
  })

  it('links every enabled service to its API docs and reports the chat bridge', async () => {
    api()
    renderPage(<SettingsPage />, { path: '/settings' })

    const link = await screen.findByRole('link', { name: /orchestrator/ })
    expect(link.getAttribute('href')).toBe(`http://${window.location.hostname}:38000/docs`)
    expect(screen.queryByRole('link', { name: /chat-bridge/ })).toBeNull()
    const bridges = screen.getByRole('heading', { name: 'Chat bridges' }).closest('section')!
    expect(await within(bridges).findByText(/The bridge is off/)).toBeTruthy()
  })

  it('saves bridge tokens write-only and allow-lists as lists, then reloads the bridge', async () => {
    const running = { ...overview, services: overview.services.map((s) => (s.name === 'chat-bridge' ? { ...s, state: 'ready' } : s)) }
    const status = (state: string, error: string | null = null) => ({
      adapters: [
        { platform: 'telegram', configured: state !== 'disabled', state, mode: 'polling', error },
        { platform: 'slack', configured: false, state: 'disabled' },
      ],
    })
    const calls = stubApi((call) => {
      if (call.url === '/api/v1/config') return [...defaults, { key: 'telegram.bot_token', value: 'old-token', is_secret: false, is_set: true }]
      if (call.method === 'PATCH') return entry('x', null)
      if (call.url.startsWith('/recovery-api/')) return running
      if (call.url === '/bridge-api/api/status') return status('disabled')
      if (call.url === '/bridge-api/reload') return status('failed', 'Unauthorized: the bot token was rejected')
      return notFound(call)
    })
    renderPage(<SettingsPage />, { path: '/settings' })

    const token = (await screen.findByLabelText('Telegram bot token')) as HTMLInputElement
    expect(token.value).toBe('')
    expect(token.placeholder).toBe('set; leave empty to keep')
    await userEvent.type(token, 'new-token')
    await userEvent.type(screen.getByLabelText('Telegram allowed user IDs'), '42, 1001')
    await userEvent.click(screen.getByRole('button', { name: 'Save bridge settings' }))

    expect(await screen.findByText('Unauthorized: the bot token was rejected')).toBeTruthy()
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([
      ['/api/v1/config/telegram.bot_token', { value: 'new-token' }],
      ['/api/v1/config/telegram.allowed_user_ids', { value: ['42', '1001'] }],
    ])
    expect(calls.some((c) => c.url === '/bridge-api/reload' && c.method === 'POST')).toBe(true)
    expect(token.value).toBe('')
  })
})

describe('Settings page admin secret', () => {
  function rotationApi(onRotate: (secret: string) => Response | unknown = () => ({ rotated_at: '2026-11-27T05:00:00Z' })) {
    return stubApi((call) => {
      if (call.url === '/api/v1/admin/secret' && call.method === 'PUT') return onRotate((call.body as { new_secret: string }).new_secret)
      if (call.url === '/api/v1/config') return defaults
      if (call.url.startsWith('/recovery-api/')) return overview
      return notFound(call)
    })
  }

  it('checks the new secret, changes it on the server and keeps this browser signed in with it', async () => {
    localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, OLD_SECRET)
    const calls = rotationApi()
    renderPage(<SettingsPage />, { path: '/settings' })

    const secret = (await screen.findByLabelText('New admin secret')) as HTMLInputElement
    const confirm = screen.getByLabelText('Confirm new secret') as HTMLInputElement
    const change = screen.getByRole('button', { name: 'Change admin secret' })
    await userEvent.type(secret, 'too-short')
    await userEvent.click(change)
    expect(screen.getByText('At least 16 characters.')).toBeTruthy()
    await userEvent.clear(secret)
    await userEvent.type(secret, ' padded-new-secret-0123 ')
    await userEvent.click(change)
    expect(screen.getByText(/no spaces at either end/)).toBeTruthy()
    await userEvent.clear(secret)
    await userEvent.type(secret, 'brand-new-secret-0123456789')
    await userEvent.type(confirm, 'brand-new-secret-012345678')
    await userEvent.click(change)
    expect(screen.getByText('The two entries differ.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'PUT')).toBe(false)

    await userEvent.type(confirm, '9')
    await userEvent.click(change)

    expect(await screen.findByText('Admin secret changed; this browser now uses the new one')).toBeTruthy()
    const put = calls.find((c) => c.method === 'PUT')!
    expect(put.body).toEqual({ new_secret: 'brand-new-secret-0123456789' })
    expect(put.headers.get('X-Admin-Secret')).toBe(OLD_SECRET)
    expect(localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)).toBe('brand-new-secret-0123456789')
    expect(screen.getByText(/This browser has the new secret/)).toBeTruthy()
    expect([secret.value, confirm.value]).toEqual(['', ''])
  })

  it('generates a strong secret into both fields and shows it so it can be kept', async () => {
    localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, OLD_SECRET)
    rotationApi()
    renderPage(<SettingsPage />, { path: '/settings' })

    await userEvent.click(await screen.findByRole('button', { name: 'Generate a strong secret' }))

    const secret = screen.getByLabelText('New admin secret') as HTMLInputElement
    const confirm = screen.getByLabelText('Confirm new secret') as HTMLInputElement
    expect(secret.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(confirm.value).toBe(secret.value)
    expect(secret.type).toBe('text')
    expect(screen.getByRole('button', { name: 'Copy secret' })).toBeTruthy()
    const first = secret.value
    await userEvent.click(screen.getByRole('button', { name: 'Generate a strong secret' }))
    expect(secret.value).not.toBe(first)
  })

  it("shows the server's refusal, keeps what was typed and the secret this browser had", async () => {
    localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, OLD_SECRET)
    rotationApi(() => json({ detail: 'new_secret must be at least 16 characters and not a default' }, 400))
    renderPage(<SettingsPage />, { path: '/settings' })

    await userEvent.type(await screen.findByLabelText('New admin secret'), 'nova-admin-secret-change-me')
    await userEvent.type(screen.getByLabelText('Confirm new secret'), 'nova-admin-secret-change-me')
    await userEvent.click(screen.getByRole('button', { name: 'Change admin secret' }))

    expect(await screen.findByText('new_secret must be at least 16 characters and not a default')).toBeTruthy()
    expect((screen.getByLabelText('New admin secret') as HTMLInputElement).value).toBe('nova-admin-secret-change-me')
    expect(localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)).toBe(OLD_SECRET)
  })
})

describe('docsUrl', () => {
  it('keeps a loopback port and maps a Compose host name to the published seed port', () => {
    expect(docsUrl({ url: 'http://127.0.0.1:38001', port: 8001 }, 'nova.lan')).toBe('http://nova.lan:38001/docs')
    expect(docsUrl({ url: 'http://llm-gateway:8001', port: 8001 }, 'nova.lan')).toBe('http://nova.lan:8001/docs')
  })
})
