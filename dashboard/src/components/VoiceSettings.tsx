import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Play, Square } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import { configApi, configQueries, configValue, type ConfigEntry } from '../api/config'
import {
  PROVIDER_LABELS,
  VOICE_ENABLE_HINT,
  VOICE_PROVIDERS,
  VOICE_SETTINGS,
  providerSettingValue,
  voiceQueries,
  voiceSettings,
  type ProviderChoice,
  type ProvidersReport,
  type VoiceProvider,
} from '../api/voice'
import { toast } from '../toast'
import { useSpeaker, useVoiceAvailable } from '../voice'
import { Button } from './Button'
import { FormError, SelectField, TextField } from './Field'
import { providerKeyProblem } from './ProviderKeyForm'
import { Panel } from './Page'
import { Badge, badgeTone } from './StateBadge'
import { ErrorNotice, Loading } from './States'

const MIN_SPEED = 0.25
const MAX_SPEED = 4
const PREVIEW_TEXT = 'Hello! This is how I sound when I read my replies aloud.'

/** Settings → Voice: which providers work, and the provider, voice and speed voice-service uses. */
export function VoiceSection({ entries }: { entries: ConfigEntry[] }) {
  const voice = useVoiceAvailable()
  return (
    <Panel title="Voice">
      {!voice.known && <Loading label="Checking voice-service…" />}
      {voice.known && !voice.available && (
        <p data-testid="voice-off" className="text-sm text-muted">
          {VOICE_ENABLE_HINT}
        </p>
      )}
      {voice.available && <VoiceForm entries={entries} />}
    </Panel>
  )
}

function VoiceForm({ entries }: { entries: ConfigEntry[] }) {
  const providers = useQuery(voiceQueries.providers())
  if (providers.isPending) return <Loading label="Asking voice-service…" />
  if (providers.isError) return <ErrorNotice title="Could not ask voice-service" error={providers.error} onRetry={() => void providers.refetch()} />
  return (
    <div className="space-y-4">
      <ProviderTable report={providers.data} />
      <VoiceChoices entries={entries} report={providers.data} />
      <VoiceCredentials entries={entries} />
    </div>
  )
}

function ProviderTable({ report }: { report: ProvidersReport }) {
  return (
    <div className="-mx-4 overflow-x-auto">
      <table className="w-full min-w-[32rem] text-sm" aria-label="Voice providers">
        <thead className="text-left text-xs text-muted">
          <tr>
            <th className="px-4 py-1.5 font-medium">Provider</th>
            <th className="px-2 py-1.5 font-medium">Speech to text</th>
            <th className="px-2 py-1.5 font-medium">Text to speech</th>
            <th className="px-4 py-1.5 font-medium">State</th>
          </tr>
        </thead>
        <tbody>
          {report.providers.map((p) => (
            <tr key={p.provider} className="border-t border-line align-top">
              <td className="px-4 py-1.5">
                {PROVIDER_LABELS[p.provider] ?? p.provider}
                {(report.stt_provider === p.provider || report.tts_provider === p.provider) && (
                  <span className="ml-1 text-xs text-muted">
                    (in use for {[report.stt_provider === p.provider && 'listening', report.tts_provider === p.provider && 'speaking'].filter(Boolean).join(' and ')})
                  </span>
                )}
              </td>
              <td className="px-2 py-1.5">{p.speech_to_text ? 'yes' : '—'}</td>
              <td className="px-2 py-1.5">{p.text_to_speech ? 'yes' : '—'}</td>
              <td className="px-4 py-1.5">
                {p.usable ? <Badge className={badgeTone.good}>usable</Badge> : <Badge className={p.configured ? badgeTone.bad : badgeTone.neutral}>{p.configured ? 'not usable' : 'not configured'}</Badge>}
                {p.reason && <p className="mt-0.5 text-xs text-muted">{p.reason}</p>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function VoiceChoices({ entries, report }: { entries: ConfigEntry[]; report: ProvidersReport }) {
  const queryClient = useQueryClient()
  const saved = voiceSettings(entries)
  const [form, setForm] = useState({ stt: saved.sttProvider, tts: saved.ttsProvider, voice: saved.ttsVoice ?? '', speed: String(saved.ttsSpeed) })
  const [speedError, setSpeedError] = useState<string | null>(null)
  const speaker = useSpeaker()
  const can = (provider: VoiceProvider, what: 'speech_to_text' | 'text_to_speech') => report.providers.some((p) => p.provider === provider && p[what])
  // The voices of the provider that would speak: the chosen one, or for `auto` the one in force.
  const speaking: VoiceProvider | undefined = form.tts === 'auto' ? (report.tts_provider ?? undefined) : form.tts
  const voices = useQuery({ ...voiceQueries.voices(speaking), enabled: speaking !== undefined })

  const save = useMutation({
    mutationFn: async (changes: [string, unknown][]) => {
      for (const [key, value] of changes) await configApi.update(key, value)
    },
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Voice settings saved; voice-service uses them within a few seconds.')
      void queryClient.invalidateQueries({ queryKey: voiceQueries.all })
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: configQueries.all }),
  })

  function parsedSpeed(): number | null {
    const speed = Number(form.speed)
    return Number.isFinite(speed) && speed >= MIN_SPEED && speed <= MAX_SPEED ? speed : null
  }

  function submit(event: FormEvent) {
    event.preventDefault()
    const speed = parsedSpeed()
    if (speed === null) return setSpeedError(`A pace from ${MIN_SPEED} to ${MAX_SPEED}; 1 is normal.`)
    setSpeedError(null)
    const changes: [string, unknown][] = []
    if (form.stt !== saved.sttProvider) changes.push([VOICE_SETTINGS.sttProvider, providerSettingValue(form.stt)])
    if (form.tts !== saved.ttsProvider) changes.push([VOICE_SETTINGS.ttsProvider, providerSettingValue(form.tts)])
    if ((form.voice || null) !== saved.ttsVoice) changes.push([VOICE_SETTINGS.ttsVoice, form.voice || null])
    if (speed !== saved.ttsSpeed) changes.push([VOICE_SETTINGS.ttsSpeed, speed])
    if (changes.length === 0) return void toast.info('Nothing changed')
    save.mutate(changes)
  }

  function preview() {
    if (speaker.activeId) return speaker.stop()
    // The chosen provider, voice and pace, before they are saved.
    const speed = parsedSpeed() ?? undefined
    const provider = form.tts === 'auto' ? undefined : form.tts
    speaker.speak('preview', PREVIEW_TEXT, { provider, voice: form.voice || undefined, speed })
  }

  return (
    <form onSubmit={submit} className="space-y-4" noValidate>
      <div className="grid gap-4 sm:grid-cols-2">
        <SelectField label="Listening (speech to text)" value={form.stt} onChange={(event) => setForm({ ...form, stt: event.target.value as ProviderChoice })}>
          <option value="auto">Automatic (first usable)</option>
          {VOICE_PROVIDERS.filter((p) => can(p, 'speech_to_text')).map((p) => (
            <option key={p} value={p}>
              {PROVIDER_LABELS[p]}
            </option>
          ))}
        </SelectField>
        <SelectField label="Speaking (text to speech)" value={form.tts} onChange={(event) => setForm({ ...form, tts: event.target.value as ProviderChoice, voice: '' })}>
          <option value="auto">Automatic (first usable)</option>
          {VOICE_PROVIDERS.filter((p) => can(p, 'text_to_speech')).map((p) => (
            <option key={p} value={p}>
              {PROVIDER_LABELS[p]}
            </option>
          ))}
        </SelectField>
      </div>
      <div className="grid items-end gap-4 sm:grid-cols-[2fr_1fr_auto]">
        <SelectField label="Voice" value={form.voice} onChange={(event) => setForm({ ...form, voice: event.target.value })}
          hint={voices.isError ? `Could not list the voices: ${errorMessage(voices.error)}` : undefined}>
          <option value="">The provider’s default</option>
          {form.voice && !voices.data?.voices.some((v) => v.id === form.voice) && <option value={form.voice}>{form.voice}</option>}
          {voices.data?.voices.map((v) => (
            <option key={v.id} value={v.id}>
              {v.name}
              {v.language ? ` (${v.language})` : ''}
            </option>
          ))}
        </SelectField>
        <TextField label="Speed" type="number" inputMode="decimal" min={MIN_SPEED} max={MAX_SPEED} step="0.05" value={form.speed}
          error={speedError} onChange={(event) => setForm({ ...form, speed: event.target.value })} />
        <Button onClick={preview} busy={speaker.loading} aria-label={speaker.activeId ? 'Stop the preview' : 'Preview the voice'}>
          {speaker.activeId && !speaker.loading ? <Square className="h-4 w-4" aria-hidden /> : <Play className="h-4 w-4" aria-hidden />}
          Preview
        </Button>
      </div>
      {speaker.error && <p role="alert" className="text-xs text-rose-700 dark:text-rose-300">{speaker.error}</p>}
      <audio ref={speaker.audioRef} data-testid="voice-preview-player" className="hidden" />
      <FormError message={save.error ? errorMessage(save.error) : null} />
      <Button type="submit" variant="primary" busy={save.isPending}>
        Save voice settings
      </Button>
    </form>
  )
}

/** Save one setting (null removes it) and refresh what depends on it: the settings and the providers' state. */
function useSaveSetting(success: string) {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: ({ key, value }: { key: string; value: unknown }) => configApi.update(key, value),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(success)
      // voice-service re-reads its settings every few seconds; ask again once it has.
      setTimeout(() => void queryClient.invalidateQueries({ queryKey: voiceQueries.all }), 4_000)
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: configQueries.all }),
  })
}

/** Keys for the cloud providers and the URL of an OpenAI-compatible audio server (the OpenAI key is the one on the Models page). */
function VoiceCredentials({ entries }: { entries: ConfigEntry[] }) {
  return (
    <div className="space-y-4 border-t border-line pt-4">
      <h3 className="text-sm font-semibold">Providers</h3>
      <p className="text-xs text-muted">OpenAI uses the OpenAI key set on the Models page. Keys are stored sealed and never shown again.</p>
      <ServerUrlForm entries={entries} />
      <VoiceKeyForm entries={entries} settingKey={VOICE_SETTINGS.deepgramKey} label="Deepgram API key" />
      <VoiceKeyForm entries={entries} settingKey={VOICE_SETTINGS.elevenlabsKey} label="ElevenLabs API key" />
    </div>
  )
}

const URL_PATTERN = /^https?:\/\/\S+$/

function ServerUrlForm({ entries }: { entries: ConfigEntry[] }) {
  const saved = configValue<string | null>(entries, VOICE_SETTINGS.openaiCompatibleUrl, null) ?? ''
  const [url, setUrl] = useState(saved)
  const [problem, setProblem] = useState<string | null>(null)
  const save = useSaveSetting('Audio server URL saved.')

  function submit(event: FormEvent) {
    event.preventDefault()
    const value = url.trim()
    if (value && !URL_PATTERN.test(value)) return setProblem('An http:// or https:// address, e.g. http://127.0.0.1:8000/v1.')
    setProblem(null)
    if (value === saved) return void toast.info('Nothing changed')
    save.mutate({ key: VOICE_SETTINGS.openaiCompatibleUrl, value: value || null })
  }

  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-2" noValidate>
      <TextField label="OpenAI-compatible audio server (faster-whisper-server, Kokoro-FastAPI…)" className="min-w-64 flex-1" value={url}
        error={problem ?? (save.error ? errorMessage(save.error) : null)} placeholder="http://127.0.0.1:8000/v1 (empty: none)"
        onChange={(event) => setUrl(event.target.value)} />
      <Button type="submit" busy={save.isPending}>
        Save URL
      </Button>
    </form>
  )
}

function VoiceKeyForm({ entries, settingKey, label }: { entries: ConfigEntry[]; settingKey: string; label: string }) {
  const entry = entries.find((e) => e.key === settingKey)
  const [key, setKey] = useState('')
  const [problem, setProblem] = useState<string | null>(null)
  const save = useSaveSetting(`${label} saved.`)
  const remove = useSaveSetting(`${label} removed.`)
  if (!entry) return null

  function submit(event: FormEvent) {
    event.preventDefault()
    const found = providerKeyProblem(key.trim())
    setProblem(found)
    if (found) return
    save.mutate({ key: settingKey, value: key.trim() }, { onSuccess: () => setKey('') })
  }

  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-2" noValidate>
      <TextField label={label} type="password" autoComplete="off" className="min-w-64 flex-1" value={key}
        placeholder={entry.is_set ? `set (${String(entry.value ?? '••••')}); paste a new key to replace it` : 'not set'}
        error={problem ?? (save.error ? errorMessage(save.error) : remove.error ? errorMessage(remove.error) : null)}
        onChange={(event) => setKey(event.target.value)} />
      <Button type="submit" busy={save.isPending}>
        Save key
      </Button>
      {entry.is_set && (
        <Button variant="ghost" busy={remove.isPending} onClick={() => remove.mutate({ key: settingKey, value: null })}>
          Remove
        </Button>
      )}
    </form>
  )
}
