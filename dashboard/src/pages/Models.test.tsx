import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { GatewayConfig, InferenceStats, ProviderStatus } from '../api/models'
import type { Hardware, InferenceBackendStatus } from '../api/recovery'
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
const RECOVERY = '/recovery-api/api/v1/recovery'
const hardware: Hardware = {
  cpu_model: 'AMD Ryzen 7 7840U',
  cpu_count: 16,
  ram_total_mb: 32_768,
  ram_available_mb: 20_480,
  disk_free_mb: 512,
  disk_total_mb: 1_024_000,
  gpus: [{ vendor: 'nvidia', name: 'RTX 4060', memory_total_mb: 8192, memory_used_mb: 1024 }],
}
const backendStatus: InferenceBackendStatus = {
  manager: 'launcher',
  backend: 'llamacpp',
  state: 'ready',
  url: 'http://127.0.0.1:8080',
  model: 'smollm2-135m',
  switching: false,
  last_switch: null,
  options: [{ backend: 'llamacpp', models: ['smollm2-135m', 'qwen2.5-1.5b-instruct-q4_k_m.gguf'], accepts_path: true }],
}
const config = [
  { key: 'llm.routing_strategy', value: 'local-first', is_secret: false, is_set: false },
  { key: 'llm.default_chat_model', value: null, is_secret: false, is_set: false },
]

function api(extra: (call: Call) => unknown = () => undefined) {
  return stubApi((call) => {
    const answer = extra(call)
    if (answer !== undefined) return answer
    if (call.url === '/v1/models/discover') return providers
    if (call.url === '/llm-api/config') return gateway
    if (call.url === '/llm-api/models') return [{ id: 'smollm2-135m', provider: 'local', capabilities: ['chat'], context_window: 4096, max_output_tokens: 4096 }]
    if (call.url === '/v1/inference/stats') return stats
    if (call.url === '/api/v1/config') return config
    if (call.url === `${RECOVERY}/inference/hardware`) return hardware
    if (call.url === `${RECOVERY}/inference/backend`) return backendStatus
    if (call.url === `${RECOVERY}/inference/recommendation`) return { backend: 'ollama', model: 'qwen2.5:7b', reason: 'GPU with 8192 MB' }
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

describe('Models page provider keys', () => {
  const KEY = 'sk-proj-e2e-secret-1a2b'

  /** The orchestrator's key setting and the gateway's view of OpenAI, which follows it. */
  function keyedApi({ saved = null as string | null, refuse = null as string | null } = {}) {
    let key = saved
    const entry = () => ({ key: 'llm.api_key.openai', value: key === null ? null : `••••${key.slice(-4)}`, is_secret: true, is_set: key !== null, updated_at: null })
    const statuses = () =>
      providers.map((p) => (p.slug === 'openai' ? { ...p, available: key !== null, reason: key === null ? 'OPENAI_API_KEY is not set' : null } : p))
    return stubApi((call) => {
      if (call.url === '/api/v1/config/llm.api_key.openai' && call.method === 'PATCH') {
        if (refuse) return json({ detail: refuse }, 400)
        key = (call.body as { value: string | null }).value
        return entry()
      }
      if (call.url === '/api/v1/config') return [...config, entry()]
      if (call.url === '/v1/models/discover') return statuses()
      if (call.url === '/llm-api/config') return gateway
      if (call.url === '/llm-api/models') return []
      if (call.url === '/v1/inference/stats') return stats
      return notFound(call)
    })
  }

  it('saves a key, shows only its mask, and follows the provider until it is available', async () => {
    const calls = keyedApi()
    renderPage(<ModelsPage />, { path: '/models' })

    const input = (await screen.findByLabelText('OpenAI API key')) as HTMLInputElement
    expect(input.type).toBe('password')
    expect(screen.queryByLabelText('Local model slot API key')).toBeNull()
    expect(screen.getByTestId('provider-key-openai').textContent).toContain('No key saved in Nova')
    await userEvent.type(input, `  ${KEY}  `)
    await userEvent.click(screen.getByRole('button', { name: 'Save key' }))

    expect(await screen.findByText('OpenAI API key saved')).toBeTruthy()
    expect(await screen.findByText('OpenAI is available.')).toBeTruthy()
    expect(screen.getByTestId('provider-key-openai').textContent).toContain('••••1a2b')
    expect(input.value).toBe('')
    expect(document.body.textContent).not.toContain(KEY)
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([['/api/v1/config/llm.api_key.openai', { value: KEY }]])
    expect((screen.getByRole('button', { name: 'Test OpenAI' }) as HTMLButtonElement).disabled).toBe(false)
  })

  it("checks a key before sending it and keeps it when the orchestrator refuses, with the refusal's detail", async () => {
    const calls = keyedApi({ refuse: 'invalid value for llm.api_key.openai: String should have at most 8192 characters' })
    renderPage(<ModelsPage />, { path: '/models' })

    const input = (await screen.findByLabelText('OpenAI API key')) as HTMLInputElement
    await userEvent.click(screen.getByRole('button', { name: 'Save key' }))
    expect(screen.getByText('Paste the key first.')).toBeTruthy()
    await userEvent.type(input, 'sk-proj two words')
    await userEvent.click(screen.getByRole('button', { name: 'Save key' }))
    expect(screen.getByText('A key has no spaces or line breaks.')).toBeTruthy()
    await userEvent.clear(input)
    await userEvent.type(input, '••••1a2b')
    await userEvent.click(screen.getByRole('button', { name: 'Save key' }))
    expect(screen.getByText('That is the masked value; paste the key itself.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false)

    await userEvent.clear(input)
    await userEvent.type(input, KEY)
    await userEvent.click(screen.getByRole('button', { name: 'Save key' }))

    expect(await screen.findByText(/String should have at most 8192 characters/)).toBeTruthy()
    expect(input.value).toBe(KEY)
  })

  it('removes a saved key only after confirming, then reports the provider unavailable', async () => {
    const calls = keyedApi({ saved: 'sk-proj-old-key-wxyz' })
    renderPage(<ModelsPage />, { path: '/models' })

    expect(await screen.findByText('••••wxyz')).toBeTruthy()
    await userEvent.click(screen.getByRole('button', { name: 'Remove key' }))
    const dialog = await screen.findByRole('dialog', { name: 'Remove the OpenAI API key?' })
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false)

    await userEvent.click(screen.getByRole('button', { name: 'Remove key' }))
    await userEvent.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Remove key' }))

    expect(await screen.findByText('OpenAI is not available: OPENAI_API_KEY is not set.')).toBeTruthy()
    expect(screen.getByTestId('provider-key-openai').textContent).toContain('No key saved in Nova')
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ value: null })
  })
})

describe('Models page local model server', () => {
  it("shows this machine's CPU, RAM, disk and GPUs and the backend recommended for it", async () => {
    api()
    renderPage(<ModelsPage />, { path: '/models' })

    const figures = await screen.findByLabelText('Hardware')
    expect(within(figures).getByText('16 cores · AMD Ryzen 7 7840U')).toBeTruthy()
    expect(within(figures).getByText('20.0 GB of 32.0 GB')).toBeTruthy()
    expect(within(figures).getByText('512 MB of 1000.0 GB')).toBeTruthy()
    expect(screen.getByRole('list', { name: 'GPUs' }).textContent).toContain('RTX 4060 · 8.0 GB memory, 1.0 GB used')
    expect((await screen.findByTestId('backend-recommendation')).textContent).toBe('Recommended here: ollama with qwen2.5:7b (GPU with 8192 MB)')
  })

  it('stops the model server only after confirming, says whether its requests drained, and starts it again', async () => {
    const calls = api((call) => {
      if (call.url === `${RECOVERY}/inference/backend/stop`)
        return { service: 'llama-server', running: false, drained: false, inflight_at_stop: 2, detail: 'stopped with 2 request(s) still running after the drain timeout' }
      if (call.url === `${RECOVERY}/inference/backend/start`) return { service: 'llama-server', running: true, drained: true }
      return undefined
    })
    renderPage(<ModelsPage />, { path: '/models' })

    await userEvent.click(await screen.findByRole('button', { name: 'Stop model server' }))
    const dialog = await screen.findByRole('dialog', { name: 'Stop the local model server?' })
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(calls.some((c) => c.url.includes('/inference/backend/'))).toBe(false)

    await userEvent.click(screen.getByRole('button', { name: 'Stop model server' }))
    await userEvent.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Stop model server' }))
    expect(await screen.findByText('llama-server is stopped: stopped with 2 request(s) still running after the drain timeout')).toBeTruthy()

    await userEvent.click(screen.getByRole('button', { name: 'Start model server' }))
    expect(await screen.findByText('llama-server is running.')).toBeTruthy()
    expect(calls.filter((c) => c.url.includes('/inference/backend/')).map((c) => [c.method, c.url.split('/').pop()])).toEqual([
      ['POST', 'stop'],
      ['POST', 'start'],
    ])
  })

  it('shows why the model server cannot be started here', async () => {
    api((call) =>
      call.url === `${RECOVERY}/inference/backend/start` ? json({ detail: 'no service manager here: run under `make run`' }, 503) : undefined,
    )
    renderPage(<ModelsPage />, { path: '/models' })

    await userEvent.click(await screen.findByRole('button', { name: 'Start model server' }))
    expect(await screen.findByText('no service manager here: run under `make run`')).toBeTruthy()
  })

  it('switches the local backend to another model and follows the switch until it is ready', async () => {
    let phase: 'none' | 'loading' | 'ready' = 'none'
    const progress = (p: 'loading' | 'ready') => ({ backend: 'llamacpp', model: 'qwen2.5-1.5b-instruct-q4_k_m.gguf', phase: p, started_at: '2026-12-04T22:00:00Z' })
    const calls = api((call) => {
      if (call.url === `${RECOVERY}/inference/backend/switch`) {
        phase = 'loading'
        return json(progress('loading'), 202)
      }
      if (call.url === `${RECOVERY}/inference/backend` && phase !== 'none') {
        const now = phase
        // The next poll finds the switch finished.
        phase = 'ready'
        return { ...backendStatus, switching: now === 'loading', last_switch: progress(now), model: now === 'ready' ? 'qwen2.5-1.5b-instruct-q4_k_m.gguf' : 'smollm2-135m' }
      }
      return undefined
    })
    renderPage(<ModelsPage />, { path: '/models' })

    expect((await screen.findByTestId('backend-status')).textContent).toContain('llamacpp')
    await userEvent.selectOptions(screen.getByLabelText('Model'), 'qwen2.5-1.5b-instruct-q4_k_m.gguf')
    await userEvent.click(screen.getByRole('button', { name: 'Switch' }))

    const last = await screen.findByRole('status', { name: 'Last switch' })
    expect(last.textContent).toContain('Switching to llamacpp with qwen2.5-1.5b-instruct-q4_k_m.gguf: Loading the model')
    await waitFor(() => expect(screen.getByRole('status', { name: 'Last switch' }).textContent).toContain('Last switch to llamacpp'), { timeout: 8_000 })
    expect(screen.getByRole('status', { name: 'Last switch' }).textContent).toContain('Ready')
    expect(calls.find((c) => c.url.endsWith('/backend/switch'))).toMatchObject({ method: 'POST', body: { backend: 'llamacpp', model: 'qwen2.5-1.5b-instruct-q4_k_m.gguf' } })
  })

  it("sends a .gguf path typed instead of a listed model, and shows recovery's refusal", async () => {
    const calls = api((call) =>
      call.url === `${RECOVERY}/inference/backend/switch` ? json({ detail: "unknown model '/tmp/x.gguf' for llamacpp; valid: smollm2-135m" }, 400) : undefined,
    )
    renderPage(<ModelsPage />, { path: '/models' })

    await userEvent.type(await screen.findByLabelText('Or a .gguf file'), '/tmp/x.gguf')
    expect((screen.getByLabelText('Model') as HTMLSelectElement).disabled).toBe(true)
    await userEvent.click(screen.getByRole('button', { name: 'Switch' }))

    expect(await screen.findByText("unknown model '/tmp/x.gguf' for llamacpp; valid: smollm2-135m")).toBeTruthy()
    expect(calls.find((c) => c.url.endsWith('/backend/switch'))?.body).toEqual({ backend: 'llamacpp', model: '/tmp/x.gguf' })
  })
})
