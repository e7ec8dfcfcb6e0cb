import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Play, Square } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import { configApi, configQueries, type ConfigEntry } from '../api/config'
import {
  PROVIDER_LABELS,
  VOICE_ENABLE_HINT,
  VOICE_PROVIDERS,
  VOICE_SETTINGS,
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
    if (form.stt !== saved.sttProvider) changes.push([VOICE_SETTINGS.sttProvider, form.stt])
    if (form.tts !== saved.ttsProvider) changes.push([VOICE_SETTINGS.ttsProvider, form.tts])
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
