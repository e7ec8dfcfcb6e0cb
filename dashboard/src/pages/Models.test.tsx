import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { GatewayConfig, InferenceStats, ProviderStatus } from '../api/models'
import { json, notFound, stubApi, type Call } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as ModelsPage } from './Models'

const providers: ProviderStatus[] = [
  { slug: 'openai', name: 'OpenAI', type: 'paid', available: false, reason: 'OPENAI_API_KEY is not set', models: [{ id: 'openai/gpt-4o-mini', registered: false }] },
  { slug: 'local', name: 'Local model slot', type: 'local', available: true, models: [{ id: 'smollm2-135m', registered: true }] },
]
const gateway: GatewayConfig = {
  routing_strategy: 'local-first',
  default_chat_model: null,
  default_embed_model: 'all-MiniLM-L6-v2',
  inference_backend: 'auto',
  inference_state: 'ready',
  inference_url: 'http://127.0.0.1:11434',
  inference_auth_configured: false,
}
const stats: InferenceStats = {
  backend: 'llamacpp',
  window_seconds: 300,
  requests: 12,
  errors: 1,
  avg_latency_ms: 840.2,
  avg_ttft_ms: 120,
  avg_tokens_per_second: 33.3,
  inflight: 0,
  cache_hits: 1,
  cache_misses: 3,
}
const config = [
  { key: 'llm.routing_strategy', value: 'local-first', is_secret: false, is_set: false },
  { key: 'llm.default_chat_model', value: null, is_secret: false, is_set: false },
]

function api(extra: (call: Call) => unknown = () => undefined) {
  return stubApi((call) => {
    const answer = extra(call)
    if (answer !== undefined) return answer
    if (call.url === '/llm-api/health/providers') return providers
    if (call.url === '/llm-api/config') return gateway
    if (call.url === '/llm-api/models') return [{ id: 'smollm2-135m', provider: 'local', capabilities: ['chat'], context_window: 4096, max_output_tokens: 4096 }]
    if (call.url === '/v1/inference/stats') return stats
    if (call.url === '/api/v1/config') return config
    if (call.method === 'PATCH' && call.url.startsWith('/api/v1/config/')) return { key: 'x', value: null, is_secret: false, is_set: true }
    return notFound(call)
  })
}

describe('Models page', () => {
  it('lists available providers first and says why the others are not', async () => {
    api()
    renderPage(<ModelsPage />, { path: '/models' })

    const list = await screen.findByRole('list', { name: 'Providers' })
    const cards = within(list).getAllByRole('article')
    expect(within(cards[0]!).getByText('Local model slot')).toBeTruthy()
    expect(within(cards[1]!).getByText('OPENAI_API_KEY is not set')).toBeTruthy()
    expect((within(cards[1]!).getByRole('button', { name: 'Test OpenAI' }) as HTMLButtonElement).disabled).toBe(true)
  })

  it('tests a provider and shows the latency or the failure', async () => {
    let ok = true
    api((call) =>
      call.url === '/llm-api/health/providers/local/test'
        ? ok
          ? { slug: 'local', ok: true, model: 'smollm2-135m', latency_ms: 412 }
          : { slug: 'local', ok: false, detail: 'connection refused' }
        : undefined,
    )
    renderPage(<ModelsPage />, { path: '/models' })

    await userEvent.click(await screen.findByRole('button', { name: 'Test Local model slot' }))
    expect(await screen.findByText('Answered in 412 ms by smollm2-135m')).toBeTruthy()
    ok = false
    await userEvent.click(screen.getByRole('button', { name: 'Test Local model slot' }))
    expect(await screen.findByText('Failed: connection refused')).toBeTruthy()
  })

  it('switches the routing strategy through the platform settings', async () => {
    const calls = api()
    renderPage(<ModelsPage />, { path: '/models' })

    await userEvent.click(await screen.findByLabelText(/Cloud first/))

    await waitFor(() => expect(calls.find((c) => c.method === 'PATCH')).toMatchObject({ url: '/api/v1/config/llm.routing_strategy', body: { value: 'cloud-first' } }))
  })

  it('saves the local backend and URL on the gateway and checks the URL first', async () => {
    const calls = api((call) => (call.method === 'PATCH' && call.url === '/llm-api/config' ? json({ ...gateway, inference_backend: 'ollama' }) : undefined))
    renderPage(<ModelsPage />, { path: '/models' })

    const url = await screen.findByLabelText('URL')
    await userEvent.clear(url)
    await userEvent.type(url, 'localhost:11434')
    await userEvent.click(screen.getByRole('button', { name: 'Save local inference' }))
    expect(screen.getByText(/An http:\/\/ or https:\/\/ URL/)).toBeTruthy()

    await userEvent.clear(url)
    await userEvent.type(url, 'http://10.0.0.5:11434')
    await userEvent.selectOptions(screen.getByLabelText('Backend'), 'ollama')
    await userEvent.click(screen.getByRole('button', { name: 'Save local inference' }))

    expect(await screen.findByText('Local inference saved')).toBeTruthy()
    expect(calls.find((c) => c.url === '/llm-api/config' && c.method === 'PATCH')?.body).toEqual({
      inference_backend: 'ollama',
      inference_url: 'http://10.0.0.5:11434',
    })
  })

  it("shows the local backend's figures", async () => {
    api()
    renderPage(<ModelsPage />, { path: '/models' })

    expect(await screen.findByText('Last 5 minutes on llamacpp')).toBeTruthy()
    expect(screen.getByText('840 ms')).toBeTruthy()
    expect(screen.getByText('25 %')).toBeTruthy()
  })
})
