import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'

import { stubApi } from '../test/fetch'
import type { ServicesOverview } from './health'
import { voiceApi, voiceAvailable, voiceQueries, voiceSettings } from './voice'

describe('voice API', () => {
  it('sends recorded audio as the multipart field `file`', async () => {
    const calls = stubApi(() => ({ text: 'hello nova', language: 'en', duration_ms: 1200, confidence: 0.8, provider: 'offline' }))

    const heard = await voiceApi.transcribe(new Blob(['abc'], { type: 'audio/webm' }), 'speech.webm')

    expect(heard.text).toBe('hello nova')
    const [call] = calls
    expect([call?.method, call?.url]).toEqual(['POST', '/voice-api/api/v1/voice/transcribe'])
    const form = call?.body as FormData
    expect(form).toBeInstanceOf(FormData)
    expect((form.get('file') as File).name).toBe('speech.webm')
    // The browser sets the multipart boundary; a Content-Type set by hand would lose it.
    expect(call?.headers.get('Content-Type')).toBeNull()
  })

  it('returns synthesized speech as an audio blob', async () => {
    const calls = stubApi(() => new Response(new Uint8Array([0x49, 0x44, 0x33]), { headers: { 'Content-Type': 'audio/mpeg' } }))

    const audio = await voiceApi.synthesize({ text: 'Hi there', format: 'mp3' })

    expect(audio.type).toBe('audio/mpeg')
    expect(audio.size).toBe(3)
    expect(calls[0]?.body).toEqual({ text: 'Hi there', format: 'mp3' })
  })

  it('lists the voices of the provider asked for', async () => {
    const calls = stubApi(() => ({ provider: 'offline', voices: [] }))
    await new QueryClient().fetchQuery(voiceQueries.voices('offline'))
    expect(calls[0]?.url).toBe('/voice-api/api/v1/voice/voices?provider=offline')
  })

  it('is available only while recovery sees voice-service ready', () => {
    const overview = (state: string): ServicesOverview =>
      ({ services: [{ name: 'voice-service', url: 'http://127.0.0.1:8130', port: 8130, profile: 'voice', state }], ready: 1, total: 1 }) as ServicesOverview

    expect(voiceAvailable(overview('ready'))).toBe(true)
    expect(voiceAvailable(overview('disabled'))).toBe(false)
    expect(voiceAvailable(overview('down'))).toBe(false)
    expect(voiceAvailable(undefined)).toBe(false)
  })

  it('reads the voice settings with their defaults', () => {
    expect(voiceSettings([])).toEqual({ sttProvider: 'auto', ttsProvider: 'auto', ttsVoice: null, ttsSpeed: 1 })
    expect(
      voiceSettings([
        { key: 'voice.tts_provider', value: 'offline', is_secret: false, is_set: true },
        { key: 'voice.tts_speed', value: 1.25, is_secret: false, is_set: true },
      ]),
    ).toMatchObject({ ttsProvider: 'offline', ttsSpeed: 1.25 })
  })
})
