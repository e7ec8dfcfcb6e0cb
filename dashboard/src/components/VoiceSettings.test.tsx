import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import type { ConfigEntry } from '../api/config'
import { notFound, stubApi, type Call } from '../test/fetch'
import { renderPage } from '../test/render'
import { VoiceSection } from './VoiceSettings'

const SERVICES = '/recovery-api/api/v1/recovery/services'

function overview(state: 'ready' | 'disabled') {
  return { services: [{ name: 'voice-service', url: 'http://127.0.0.1:8130', port: 8130, profile: 'voice', state }], ready: 1, total: 1 }
}

const providers = {
  stt_provider: 'offline',
  tts_provider: 'offline',
  providers: [
    { provider: 'openai', speech_to_text: true, text_to_speech: true, configured: false, usable: false, reason: 'no OpenAI key: set llm.api_key.openai' },
    { provider: 'deepgram', speech_to_text: true, text_to_speech: true, configured: true, usable: false, reason: 'Deepgram refused the key (401)' },
    { provider: 'offline', speech_to_text: true, text_to_speech: true, configured: true, usable: true, reason: null },
  ],
}
const voices = { provider: 'offline', voices: [{ id: 'en-us', name: 'English (America)', language: 'en-us' }, { id: 'de', name: 'German', language: 'de' }] }

const entries: ConfigEntry[] = [
  { key: 'voice.tts_speed', value: null, is_secret: false, is_set: false },
  { key: 'voice.stt_provider', value: 'offline', is_secret: false, is_set: true },
  { key: 'voice.openai_compatible_url', value: null, is_secret: false, is_set: false },
  { key: 'voice.deepgram_api_key', value: null, is_secret: true, is_set: false },
  { key: 'voice.elevenlabs_api_key', value: 'sk_…f00d', is_secret: true, is_set: true },
]

function api(state: 'ready' | 'disabled', overrides: (call: Call) => unknown = () => undefined) {
  return stubApi((call) => {
    const answer = overrides(call)
    if (answer !== undefined) return answer
    if (call.url === SERVICES) return overview(state)
    if (call.url === '/voice-api/api/v1/voice/providers') return providers
    if (call.url.startsWith('/voice-api/api/v1/voice/voices')) return voices
    if (call.method === 'PATCH' && call.url.startsWith('/api/v1/config/')) return { key: call.url.split('/').at(-1), value: (call.body as { value: unknown }).value, is_secret: false, is_set: true }
    if (call.url === '/api/v1/config') return entries
    return notFound(call)
  })
}

let played: string[] = []
beforeEach(() => {
  played = []
  URL.createObjectURL = vi.fn(() => 'blob:http://localhost/preview')
  URL.revokeObjectURL = vi.fn()
  vi.spyOn(HTMLMediaElement.prototype, 'play').mockImplementation(async function (this: HTMLMediaElement) {
    played.push(this.src)
  })
  vi.spyOn(HTMLMediaElement.prototype, 'pause').mockImplementation(() => undefined)
})
afterEach(() => vi.restoreAllMocks())

describe('Voice settings', () => {
  it('says how to turn voice on when voice-service is not running', async () => {
    const calls = api('disabled')
    renderPage(<VoiceSection entries={entries} />)

    expect(await screen.findByText(/COMPOSE_PROFILES=voice make run/)).toBeTruthy()
    expect(calls.some((c) => c.url.startsWith('/voice-api/'))).toBe(false)
  })

  it('lists each provider, whether it is usable and why not', async () => {
    api('ready')
    renderPage(<VoiceSection entries={entries} />)

    const table = await screen.findByRole('table', { name: 'Voice providers' })
    const deepgram = within(table).getByText('Deepgram').closest('tr')!
    expect(within(deepgram).getByText('not usable')).toBeTruthy()
    expect(within(deepgram).getByText('Deepgram refused the key (401)')).toBeTruthy()
    const offline = within(table).getByText(/Offline/).closest('tr')!
    expect(within(offline).getByText('usable')).toBeTruthy()
    expect(within(offline).getByText('(in use for listening and speaking)')).toBeTruthy()
  })

  it('previews the chosen voice and pace before saving, then saves only what changed', async () => {
    const user = userEvent.setup()
    const calls = api('ready', (call) =>
      call.url === '/voice-api/api/v1/voice/synthesize' ? new Response(new Uint8Array([1]), { headers: { 'Content-Type': 'audio/mpeg' } }) : undefined,
    )
    renderPage(<VoiceSection entries={entries} />)

    await user.selectOptions(await screen.findByLabelText('Speaking (text to speech)'), 'offline')
    await screen.findByRole('option', { name: 'German (de)' })
    await user.selectOptions(screen.getByLabelText('Voice'), 'de')
    await user.clear(screen.getByLabelText('Speed'))
    await user.type(screen.getByLabelText('Speed'), '1.5')
    await user.click(screen.getByRole('button', { name: 'Preview the voice' }))

    await waitFor(() => expect(played).toEqual(['blob:http://localhost/preview']))
    expect(calls.find((c) => c.url.endsWith('/synthesize'))?.body).toMatchObject({ provider: 'offline', voice: 'de', speed: 1.5, format: 'mp3' })

    await user.click(screen.getByRole('button', { name: 'Save voice settings' }))
    await waitFor(() => expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(3))
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([
      ['/api/v1/config/voice.tts_provider', { value: 'offline' }],
      ['/api/v1/config/voice.tts_voice', { value: 'de' }],
      ['/api/v1/config/voice.tts_speed', { value: 1.5 }],
    ])
  })

  it('refuses a pace outside 0.25 to 4 without saving', async () => {
    const user = userEvent.setup()
    const calls = api('ready')
    renderPage(<VoiceSection entries={entries} />)

    await user.clear(await screen.findByLabelText('Speed'))
    await user.type(screen.getByLabelText('Speed'), '9')
    await user.click(screen.getByRole('button', { name: 'Save voice settings' }))

    expect(await screen.findByText('A pace from 0.25 to 4; 1 is normal.')).toBeTruthy()
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false)
  })

  it('clears a stored provider when Automatic is chosen, since the setting holds providers only', async () => {
    const user = userEvent.setup()
    const calls = api('ready')
    renderPage(<VoiceSection entries={entries} />)

    await user.selectOptions(await screen.findByLabelText('Listening (speech to text)'), 'auto')
    await user.click(screen.getByRole('button', { name: 'Save voice settings' }))

    await waitFor(() => expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([['/api/v1/config/voice.stt_provider', { value: null }]]))
  })

  it('stores a Deepgram key and an audio server URL, and removes the ElevenLabs key', async () => {
    const user = userEvent.setup()
    const calls = api('ready')
    renderPage(<VoiceSection entries={entries} />)

    await user.type(await screen.findByLabelText('OpenAI-compatible audio server (faster-whisper-server, Kokoro-FastAPI…)'), 'ftp://nope')
    await user.click(screen.getByRole('button', { name: 'Save URL' }))
    expect(await screen.findByText(/An http:\/\/ or https:\/\/ address/)).toBeTruthy()
    await user.clear(screen.getByLabelText('OpenAI-compatible audio server (faster-whisper-server, Kokoro-FastAPI…)'))
    await user.type(screen.getByLabelText('OpenAI-compatible audio server (faster-whisper-server, Kokoro-FastAPI…)'), 'http://127.0.0.1:8000/v1')
    await user.click(screen.getByRole('button', { name: 'Save URL' }))
    await user.type(screen.getByLabelText('Deepgram API key'), 'dg-0123456789abcdef')
    const deepgram = screen.getByLabelText('Deepgram API key').closest('form')!
    await user.click(within(deepgram).getByRole('button', { name: 'Save key' }))
    const elevenlabs = screen.getByLabelText('ElevenLabs API key').closest('form')!
    await user.click(within(elevenlabs).getByRole('button', { name: 'Remove' }))

    await waitFor(() => expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(3))
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => [c.url, c.body])).toEqual([
      ['/api/v1/config/voice.openai_compatible_url', { value: 'http://127.0.0.1:8000/v1' }],
      ['/api/v1/config/voice.deepgram_api_key', { value: 'dg-0123456789abcdef' }],
      ['/api/v1/config/voice.elevenlabs_api_key', { value: null }],
    ])
  })

})
