import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Route, Routes } from 'react-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import type { ConversationDetail } from '../api/chat'
import { json, notFound, stubApi, type Call } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as ChatPage } from './Chat'

const SERVICES = '/recovery-api/api/v1/recovery/services'
const conversation: ConversationDetail = {
  id: 'c-1',
  session_id: 's-1',
  title: 'Hello',
  message_count: 2,
  created_at: '2026-11-27T05:00:00Z',
  updated_at: '2026-11-27T05:00:00Z',
  messages: [
    { id: 'u-1', role: 'user', content: 'Hello', metadata: {}, created_at: '2026-11-27T05:00:00Z' },
    { id: 'a-1', role: 'assistant', content: 'Hi! **How** can I help?', model: 'fake', metadata: {}, created_at: '2026-11-27T05:00:01Z' },
  ],
}

function overview(voiceState: 'ready' | 'disabled') {
  return {
    services: [
      { name: 'orchestrator', url: 'http://127.0.0.1:8000', port: 8000, state: 'ready' },
      { name: 'voice-service', url: 'http://127.0.0.1:8130', port: 8130, profile: 'voice', state: voiceState },
    ],
    ready: voiceState === 'ready' ? 2 : 1,
    total: voiceState === 'ready' ? 2 : 1,
  }
}

function sse(...events: unknown[]): Response {
  const body = events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('')
  return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } })
}

function api(voiceState: 'ready' | 'disabled', overrides: (call: Call) => unknown = () => undefined) {
  return stubApi((call) => {
    const answer = overrides(call)
    if (answer !== undefined) return answer
    if (call.url === SERVICES) return overview(voiceState)
    if (call.url === '/api/v1/identity') return { name: 'Orion', greeting: 'Hello!' }
    if (call.url === '/llm-api/models') return []
    if (call.url.startsWith('/api/v1/conversations?')) return []
    if (call.url === '/api/v1/conversations/c-1') return conversation
    return notFound(call)
  })
}

function renderChat(path = '/') {
  return renderPage(
    <Routes>
      <Route path="/" element={<ChatPage />} />
    </Routes>,
    { path },
  )
}

/** A microphone and MediaRecorder that record one chunk of bytes between start and stop. */
class FakeRecorder {
  static isTypeSupported = (type: string) => type.startsWith('audio/webm')
  mimeType: string
  state: 'inactive' | 'recording' = 'inactive'
  ondataavailable: ((event: { data: Blob }) => void) | null = null
  onstop: (() => void) | null = null
  constructor(_stream: unknown, options?: { mimeType?: string }) {
    this.mimeType = options?.mimeType ?? 'audio/webm'
  }
  start() {
    this.state = 'recording'
  }
  stop() {
    this.state = 'inactive'
    this.ondataavailable?.({ data: new Blob(['fake opus bytes'], { type: this.mimeType }) })
    this.onstop?.()
  }
}

let played: string[] = []

beforeEach(() => {
  played = []
  const track = { stop: vi.fn() }
  vi.stubGlobal('MediaRecorder', FakeRecorder)
  Object.defineProperty(navigator, 'mediaDevices', {
    configurable: true,
    value: { getUserMedia: vi.fn(async () => ({ getTracks: () => [track] })) },
  })
  URL.createObjectURL = vi.fn(() => 'blob:http://localhost/reply')
  URL.revokeObjectURL = vi.fn()
  vi.spyOn(HTMLMediaElement.prototype, 'play').mockImplementation(async function (this: HTMLMediaElement) {
    played.push(this.src)
  })
  vi.spyOn(HTMLMediaElement.prototype, 'pause').mockImplementation(() => undefined)
})

afterEach(() => {
  vi.restoreAllMocks()
  Reflect.deleteProperty(navigator, 'mediaDevices')
})

describe('Chat with voice', () => {
  it('offers hold-to-talk and speaker buttons only while voice-service runs', async () => {
    api('ready')
    const running = renderChat('/?c=c-1')
    expect(await screen.findByTestId('hold-to-talk')).toBeTruthy()
    expect(await screen.findByRole('button', { name: 'Read aloud' })).toBeTruthy()
    running.unmount()

    api('disabled')
    renderChat('/?c=c-1')

    expect(await screen.findByText('Hi!', { exact: false })).toBeTruthy()
    await screen.findByPlaceholderText('Message Orion…')
    expect(screen.queryByTestId('hold-to-talk')).toBeNull()
    expect(screen.queryByRole('button', { name: 'Read aloud' })).toBeNull()
    expect(screen.queryByRole('button', { name: 'Read replies aloud' })).toBeNull()
  })

  it('records while the microphone is held, transcribes on release and sends what was heard', async () => {
    const calls = api('ready', (call) => {
      if (call.url === '/voice-api/api/v1/voice/transcribe') return { text: 'what is the weather', language: 'en', duration_ms: 1500, provider: 'offline' }
      if (call.url === '/api/v1/chat/stream') return sse({ meta: { conversation_id: 'c-1', user_message_id: 'u-9' } }, { delta: 'Sunny.' }, '[DONE]')
      return undefined
    })
    renderChat()

    const talk = await screen.findByTestId('hold-to-talk')
    fireEvent.pointerDown(talk)
    expect(await screen.findByText('Recording… release to send.')).toBeTruthy()
    fireEvent.pointerUp(talk)

    await waitFor(() => expect(calls.find((c) => c.url === '/api/v1/chat/stream')?.body).toMatchObject({ message: 'what is the weather' }))
    const upload = calls.find((c) => c.url === '/voice-api/api/v1/voice/transcribe')?.body as FormData
    expect((upload.get('file') as File).name).toBe('speech.webm')
    expect((upload.get('file') as File).type).toBe('audio/webm;codecs=opus')
  })

  it('sends nothing and says so when the recording held no speech', async () => {
    const calls = api('ready', (call) =>
      call.url === '/voice-api/api/v1/voice/transcribe' ? { text: '', language: null, duration_ms: 900, provider: 'offline' } : undefined,
    )
    renderChat()

    const talk = await screen.findByTestId('hold-to-talk')
    fireEvent.pointerDown(talk)
    await screen.findByText('Recording… release to send.')
    fireEvent.pointerUp(talk)

    expect(await screen.findByText(/Nothing was heard/)).toBeTruthy()
    expect(calls.some((c) => c.url === '/api/v1/chat/stream')).toBe(false)
  })

  it('reads a reply aloud from its speaker button, as plain text', async () => {
    const user = userEvent.setup()
    const calls = api('ready', (call) =>
      call.url === '/voice-api/api/v1/voice/synthesize' ? new Response(new Uint8Array([1, 2, 3]), { headers: { 'Content-Type': 'audio/mpeg' } }) : undefined,
    )
    renderChat('/?c=c-1')

    const reply = (await screen.findAllByTestId('assistant-message'))[0]!
    expect(reply).toBeTruthy()
    await user.click(await screen.findByRole('button', { name: 'Read aloud' }))

    await waitFor(() => expect(played).toEqual(['blob:http://localhost/reply']))
    expect(calls.find((c) => c.url === '/voice-api/api/v1/voice/synthesize')?.body).toEqual({ text: 'Hi! How can I help?', format: 'mp3' })
    expect(within(screen.getByRole('list', { name: 'Messages' })).getByRole('button', { name: 'Stop reading aloud' })).toBeTruthy()
  })

  it('reads each finished reply aloud when "read replies aloud" is on', async () => {
    const user = userEvent.setup()
    const calls = api('ready', (call) => {
      if (call.url === '/api/v1/chat/stream') return sse({ meta: { conversation_id: 'c-1', user_message_id: 'u-9' } }, { delta: 'Sunny ' }, { delta: 'today.' }, '[DONE]')
      if (call.url === '/voice-api/api/v1/voice/synthesize') return new Response(new Uint8Array([1]), { headers: { 'Content-Type': 'audio/mpeg' } })
      return undefined
    })
    renderChat()

    await user.click(await screen.findByRole('button', { name: 'Read replies aloud' }))
    await user.type(screen.getByLabelText('Message'), 'Weather?{Enter}')

    await waitFor(() => expect(played).toHaveLength(1))
    expect(calls.find((c) => c.url === '/voice-api/api/v1/voice/synthesize')?.body).toEqual({ text: 'Sunny today.', format: 'mp3' })
    expect(localStorage.getItem('nova.readAloud')).toBe('true')
  })

  it('says why a reply could not be read aloud', async () => {
    const user = userEvent.setup()
    api('ready', (call) =>
      call.url === '/voice-api/api/v1/voice/synthesize' ? json({ detail: 'no text-to-speech provider is usable' }, 503) : undefined,
    )
    renderChat('/?c=c-1')

    await user.click(await screen.findByRole('button', { name: 'Read aloud' }))

    expect(await screen.findByText('Could not read it aloud: no text-to-speech provider is usable')).toBeTruthy()
    expect(played).toEqual([])
  })
})
