import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Route, Routes } from 'react-router'
import { describe, expect, it } from 'vitest'

import { ADMIN_SECRET_STORAGE_KEY } from '../api/client'
import { ONBOARDED_KEY } from '../components/OnboardingGate'
import { json, notFound, stubApi } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as Onboarding } from './Onboarding'

const SECRET = 'right-secret-0123456789'
const overview = {
  services: [
    { name: 'orchestrator', url: 'http://127.0.0.1:8000', port: 8000, state: 'ready' },
    { name: 'llm-gateway', url: 'http://127.0.0.1:8001', port: 8001, state: 'ready' },
    { name: 'model-server', url: 'http://127.0.0.1:11434', port: 11434, state: 'ready' },
  ],
  ready: 3,
  total: 3,
}

const providers = [
  { slug: 'local', name: 'Local model', type: 'local', available: true, models: [{ id: 'smollm2-135m', registered: true }] },
  { slug: 'openai', name: 'OpenAI', type: 'paid', available: false, reason: 'OPENAI_API_KEY is not set' },
]

function sse(...events: unknown[]): Response {
  const text = events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('')
  return new Response(text, { headers: { 'Content-Type': 'text/event-stream' } })
}

function renderWizard() {
  return renderPage(
    <Routes>
      <Route path="/onboarding" element={<Onboarding />} />
      <Route path="/" element={<p>chat page</p>} />
    </Routes>,
    { path: '/onboarding' },
  )
}

describe('Onboarding', () => {
  it('walks from the admin secret to a first answered message and remembers it is done', async () => {
    const calls = stubApi((call) => {
      if (call.url === '/api/v1/config' && call.method === 'GET') {
        return call.headers.get('X-Admin-Secret') === SECRET ? [] : json({ detail: 'invalid admin secret' }, 401)
      }
      if (call.url.startsWith('/recovery-api/')) return overview
      if (call.url === '/api/v1/identity') return { name: 'Nova', greeting: "Hello! I'm Nova." }
      if (call.url === '/v1/models/discover') return providers
      if (call.url === '/api/v1/chat/stream') return sse({ meta: { conversation_id: 'c-7' } }, { delta: 'Hi, I am **Nova**.' }, '[DONE]')
      if (call.method === 'PATCH') return { key: 'onboarding.completed', value: true, is_secret: false, is_set: true }
      if (call.url.startsWith('/api/v1/conversations')) return []
      return notFound(call)
    })
    renderWizard()

    await userEvent.type(screen.getByLabelText('Admin secret'), 'wrong')
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }))
    expect(await screen.findByText(/That secret was refused/)).toBeTruthy()

    await userEvent.clear(screen.getByLabelText('Admin secret'))
    await userEvent.type(screen.getByLabelText('Admin secret'), SECRET)
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }))
    expect(await screen.findByText('3 of 3 services ready')).toBeTruthy()
    expect(localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)).toBe(SECRET)

    await userEvent.click(screen.getByRole('button', { name: 'Continue' }))
    expect(await screen.findByRole('heading', { name: 'Model' })).toBeTruthy()
    expect(((await screen.findByLabelText(/Local model/)) as HTMLInputElement).checked).toBe(true)
    expect(screen.getByText(/OPENAI_API_KEY is not set/)).toBeTruthy()
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }))

    await userEvent.type(await screen.findByLabelText('Message'), 'Hello{Enter}')
    expect(await screen.findByText('Nova', { selector: 'strong' }, { timeout: 5000 })).toBeTruthy()
    await userEvent.click(screen.getByRole('button', { name: 'Finish' }))

    expect(await screen.findByText('chat page')).toBeTruthy()
    const patches = calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])
    expect(patches).toEqual([
      ['/api/v1/config/llm.routing_strategy', { value: 'local-first' }],
      ['/api/v1/config/llm.default_chat_model', { value: 'smollm2-135m' }],
      ['/api/v1/config/onboarding.completed', { value: true }],
    ])
    expect(localStorage.getItem(ONBOARDED_KEY)).toBe('1')
  })

  it("takes a cloud provider's key in the model step and offers the provider once the gateway reports it", async () => {
    localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, SECRET)
    let key: string | null = null
    const calls = stubApi((call) => {
      if (call.url.startsWith('/recovery-api/')) return overview
      if (call.url === '/api/v1/config' && call.method === 'GET') {
        return [{ key: 'llm.api_key.openai', value: key && `••••${key.slice(-4)}`, is_secret: true, is_set: key !== null }]
      }
      if (call.url === '/v1/models/discover') {
        return [
          { slug: 'local', name: 'Local model', type: 'local', available: false, reason: 'nothing answers at http://127.0.0.1:11434' },
          { slug: 'openai', name: 'OpenAI', type: 'paid', available: key !== null, models: [{ id: 'openai/gpt-4o-mini', registered: key !== null }] },
          { slug: 'custom', name: 'Custom endpoint', type: 'paid', available: false, reason: 'CUSTOM_LLM_URL is not set' },
        ]
      }
      if (call.url === '/api/v1/config/llm.api_key.openai') {
        key = (call.body as { value: string }).value
        return { key: 'llm.api_key.openai', value: `••••${key.slice(-4)}`, is_secret: true, is_set: true }
      }
      if (call.method === 'PATCH') return { key: 'x', value: null, is_secret: false, is_set: true }
      return notFound(call)
    })
    renderWizard()

    await userEvent.click(await screen.findByRole('button', { name: 'Continue' }))
    expect(await screen.findByText(/No provider is reachable yet/)).toBeTruthy()
    expect(screen.getByText(/CUSTOM_LLM_URL is not set/)).toBeTruthy()
    await userEvent.type(await screen.findByLabelText('OpenAI API key'), 'sk-proj-onboarding-9f9f')
    await userEvent.click(screen.getByRole('button', { name: 'Save key' }))

    expect(((await screen.findByLabelText(/^OpenAI/, { selector: 'input[type=radio]' })) as HTMLInputElement).checked).toBe(true)
    expect(screen.getByText('••••9f9f')).toBeTruthy()
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }))

    expect(await screen.findByRole('heading', { name: 'First message' })).toBeTruthy()
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([
      ['/api/v1/config/llm.api_key.openai', { value: 'sk-proj-onboarding-9f9f' }],
      ['/api/v1/config/llm.routing_strategy', { value: 'cloud-first' }],
      ['/api/v1/config/llm.default_chat_model', { value: 'openai/gpt-4o-mini' }],
    ])
  })

  it('skips the rest of the setup and still marks it done', async () => {
    localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, SECRET)
    const calls = stubApi((call) => {
      if (call.url.startsWith('/recovery-api/')) return overview
      if (call.method === 'PATCH') return { key: 'onboarding.completed', value: true, is_secret: false, is_set: true }
      return notFound(call)
    })
    renderWizard()

    await userEvent.click(await screen.findByRole('button', { name: 'Skip setup' }))

    expect(await screen.findByText('chat page')).toBeTruthy()
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true))
  })
})
