import { queryOptions } from '@tanstack/react-query'

import { apiFetch, apiResponse, queryString } from './client'
import type { ConfigEntry } from './config'
import { configValue } from './config'
import type { components } from './generated/voice-service'
import { findService, type ServicesOverview } from './health'

export type Transcription = components['schemas']['Transcription']
export type SynthesisRequest = components['schemas']['SynthesisRequest']
export type VoiceProvider = components['schemas']['VoiceProvider']
export type ProviderStatus = components['schemas']['VoiceProviderStatus']
export type ProvidersReport = components['schemas']['ProvidersReport']
export type Voice = components['schemas']['Voice']
export type VoiceList = components['schemas']['VoiceList']

// nova_contracts.voice.MAX_SYNTHESIS_CHARS
export const MAX_SYNTHESIS_CHARS = 4096

/** `auto` or a provider (nova_contracts.voice.ProviderChoice), as the voice settings store it. */
export type ProviderChoice = 'auto' | VoiceProvider

export const VOICE_PROVIDERS: VoiceProvider[] = ['offline', 'openai', 'openai_compatible', 'deepgram', 'elevenlabs']

export const PROVIDER_LABELS: Record<VoiceProvider, string> = {
  offline: 'Offline (eSpeak NG, PocketSphinx)',
  openai: 'OpenAI',
  openai_compatible: 'OpenAI-compatible server',
  deepgram: 'Deepgram',
  elevenlabs: 'ElevenLabs',
}

/** The platform settings voice-service reads (voice-service/README.md, "Settings"). */
export const VOICE_SETTINGS = {
  sttProvider: 'voice.stt_provider',
  ttsProvider: 'voice.tts_provider',
  ttsVoice: 'voice.tts_voice',
  ttsSpeed: 'voice.tts_speed',
  openaiCompatibleUrl: 'voice.openai_compatible_url',
  deepgramKey: 'voice.deepgram_api_key',
  elevenlabsKey: 'voice.elevenlabs_api_key',
} as const

/**
 * A provider choice as the setting stores it: `auto` is no stored value (the setting is cleared, and
 * voice-service falls back to VOICE_*_PROVIDER, whose default is auto).
 */
export function providerSettingValue(choice: ProviderChoice): VoiceProvider | null {
  return choice === 'auto' ? null : choice
}

export interface VoiceSettings {
  sttProvider: ProviderChoice
  ttsProvider: ProviderChoice
  ttsVoice: string | null
  ttsSpeed: number
}

export function voiceSettings(entries: ConfigEntry[] | undefined): VoiceSettings {
  return {
    sttProvider: configValue<ProviderChoice | null>(entries, VOICE_SETTINGS.sttProvider, 'auto') ?? 'auto',
    ttsProvider: configValue<ProviderChoice | null>(entries, VOICE_SETTINGS.ttsProvider, 'auto') ?? 'auto',
    ttsVoice: configValue<string | null>(entries, VOICE_SETTINGS.ttsVoice, null),
    ttsSpeed: configValue<number | null>(entries, VOICE_SETTINGS.ttsSpeed, 1) ?? 1,
  }
}

/**
 * voice-service is opt-in (profile `voice`). The dashboard asks recovery, which probes every service, rather than
 * voice-service itself: a call to a service that is not there would fail loudly in the browser on every page.
 */
export function voiceAvailable(overview: ServicesOverview | undefined): boolean {
  return findService(overview, 'voice-service')?.state === 'ready'
}

export const VOICE_ENABLE_HINT = 'Voice is off: start Nova with COMPOSE_PROFILES=voice make run (the same variable Compose reads).'

const BASE = '/voice-api/api/v1/voice'

export const voiceQueries = {
  all: ['voice'] as const,

  providers: () =>
    queryOptions({
      queryKey: [...voiceQueries.all, 'providers'] as const,
      queryFn: ({ signal }) => apiFetch<ProvidersReport>(`${BASE}/providers`, { signal }),
    }),

  /** The voices of `provider` (none: the text-to-speech provider in force). */
  voices: (provider?: VoiceProvider) =>
    queryOptions({
      queryKey: [...voiceQueries.all, 'voices', provider ?? 'current'] as const,
      queryFn: ({ signal }) => apiFetch<VoiceList>(`${BASE}/voices${queryString({ provider })}`, { signal }),
      staleTime: 5 * 60_000,
    }),
}

export const voiceApi = {
  /** Speech to text; empty `text` means nothing was heard. */
  transcribe: (audio: Blob, filename = 'speech.webm', signal?: AbortSignal) => {
    const form = new FormData()
    form.append('file', audio, filename)
    return apiFetch<Transcription>(`${BASE}/transcribe`, { method: 'POST', body: form, signal })
  },

  /** Text to speech, as an audio blob the page can play. */
  synthesize: async (request: SynthesisRequest, signal?: AbortSignal): Promise<Blob> => {
    const response = await apiResponse(`${BASE}/synthesize`, { method: 'POST', json: request, signal, headers: { Accept: 'audio/*' } })
    return response.blob()
  },
}
