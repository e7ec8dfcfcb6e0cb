import { useQuery } from '@tanstack/react-query'
import { useCallback, useEffect, useRef, useState, type RefObject } from 'react'

import { errorMessage } from './api/client'
import { healthQueries } from './api/health'
import { MAX_SYNTHESIS_CHARS, voiceApi, voiceAvailable, type SynthesisRequest } from './api/voice'

/**
 * Whether voice-service runs (profile `voice`), from recovery's view of the stack. Polled slowly: a person
 * who starts the profile sees the controls within half a minute, and the chat does not hammer recovery.
 */
export function useVoiceAvailable(): { available: boolean; known: boolean } {
  const overview = useQuery({ ...healthQueries.services(), refetchInterval: 30_000 })
  return { available: voiceAvailable(overview.data), known: overview.data !== undefined }
}

// What MediaRecorder can produce, most compact first; voice-service reads all of them (it sniffs the bytes).
const RECORDING_TYPES: [string, string][] = [
  ['audio/webm;codecs=opus', 'speech.webm'],
  ['audio/ogg;codecs=opus', 'speech.ogg'],
  ['audio/mp4', 'speech.m4a'],
]

function recordingType(): [string | undefined, string] {
  const found = RECORDING_TYPES.find(([type]) => MediaRecorder.isTypeSupported?.(type))
  return found ? [found[0], found[1]] : [undefined, 'speech.webm']
}

export function recordingSupported(): boolean {
  return typeof window !== 'undefined' && typeof window.MediaRecorder === 'function' && Boolean(navigator.mediaDevices?.getUserMedia)
}

export type TalkState = 'idle' | 'starting' | 'recording' | 'transcribing'

export interface HoldToTalk {
  supported: boolean
  state: TalkState
  error: string | null
  /** Press: ask for the microphone and start recording. */
  start: () => void
  /** Release: stop, transcribe, and hand the text to `onText` (nothing heard: an error, no text). */
  stop: () => void
}

/** Hold-to-talk: record while a button is held, then transcribe through voice-service. */
export function useHoldToTalk(onText: (text: string) => void): HoldToTalk {
  const [state, setState] = useState<TalkState>('idle')
  const [error, setError] = useState<string | null>(null)
  const recorder = useRef<MediaRecorder | null>(null)
  const released = useRef(false)
  const onTextRef = useRef(onText)
  onTextRef.current = onText
  const mounted = useRef(true)

  useEffect(() => {
    mounted.current = true
    return () => {
      mounted.current = false
      const active = recorder.current
      recorder.current = null
      if (active && active.state !== 'inactive') active.stop()
    }
  }, [])

  const start = useCallback(() => {
    if (state !== 'idle') return
    released.current = false
    setError(null)
    setState('starting')
    void (async () => {
      let stream: MediaStream
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true })
      } catch (caught) {
        setState('idle')
        setError(caught instanceof DOMException && caught.name === 'NotAllowedError' ? 'Microphone access was refused.' : `No microphone: ${errorMessage(caught)}`)
        return
      }
      const [mimeType, filename] = recordingType()
      const instance = new MediaRecorder(stream, mimeType ? { mimeType } : undefined)
      const chunks: Blob[] = []
      instance.ondataavailable = (event) => {
        if (event.data.size > 0) chunks.push(event.data)
      }
      instance.onstop = () => {
        stream.getTracks().forEach((track) => track.stop())
        if (!mounted.current) return
        recorder.current = null
        const audio = new Blob(chunks, { type: instance.mimeType || mimeType || 'audio/webm' })
        if (audio.size === 0) {
          setState('idle')
          setError('Nothing was recorded: hold the button while you speak.')
          return
        }
        setState('transcribing')
        voiceApi
          .transcribe(audio, filename)
          .then((heard) => {
            if (!mounted.current) return
            if (heard.text.trim()) onTextRef.current(heard.text.trim())
            else setError('Nothing was heard: hold the button and speak a little louder.')
          })
          .catch((caught: unknown) => mounted.current && setError(`Could not transcribe: ${errorMessage(caught)}`))
          .finally(() => mounted.current && setState('idle'))
      }
      recorder.current = instance
      instance.start()
      setState('recording')
      // Released while the browser was still asking for the microphone: stop straight away.
      if (released.current) instance.stop()
    })()
  }, [state])

  const stop = useCallback(() => {
    released.current = true
    const active = recorder.current
    if (active && active.state === 'recording') active.stop()
  }, [])

  return { supported: recordingSupported(), state, error, start, stop }
}

/** Markdown as it would be read out: code blocks and link targets left out, markup removed. */
export function speakableText(markdown: string): string {
  return markdown
    .replace(/```[\s\S]*?```/g, ' (code) ')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/[`*_#>|~]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_SYNTHESIS_CHARS)
}

export type SpeakOptions = Pick<SynthesisRequest, 'provider' | 'voice' | 'speed'>

export interface Speaker {
  /** The message being fetched or played, if any. */
  activeId: string | null
  loading: boolean
  error: string | null
  /** Read `text` aloud; `options` override the configured provider, voice and pace (a settings preview). */
  speak: (id: string, text: string, options?: SpeakOptions) => void
  stop: () => void
  /** Attach to the page's one <audio> element. */
  audioRef: RefObject<HTMLAudioElement | null>
}

/** Reads replies aloud through voice-service, one at a time, into one <audio> element the page renders. */
export function useSpeaker(): Speaker {
  const audioRef = useRef<HTMLAudioElement | null>(null)
  const [activeId, setActiveId] = useState<string | null>(null)
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const controller = useRef<AbortController | null>(null)
  const url = useRef<string | null>(null)

  const release = useCallback(() => {
    controller.current?.abort()
    controller.current = null
    const audio = audioRef.current
    if (audio) audio.pause()
    if (url.current) URL.revokeObjectURL(url.current)
    url.current = null
  }, [])

  useEffect(() => release, [release])

  const stop = useCallback(() => {
    release()
    setActiveId(null)
    setLoading(false)
  }, [release])

  const speak = useCallback(
    (id: string, text: string, options: SpeakOptions = {}) => {
      release()
      const spoken = speakableText(text)
      if (!spoken) return
      const abort = new AbortController()
      controller.current = abort
      setActiveId(id)
      setLoading(true)
      setError(null)
      voiceApi
        .synthesize({ ...options, text: spoken, format: 'mp3' }, abort.signal)
        .then(async (blob) => {
          if (abort.signal.aborted) return
          const audio = audioRef.current
          if (!audio) return
          url.current = URL.createObjectURL(blob)
          audio.src = url.current
          audio.onended = () => setActiveId((current) => (current === id ? null : current))
          setLoading(false)
          await audio.play()
        })
        .catch((caught: unknown) => {
          if (abort.signal.aborted) return
          setLoading(false)
          setActiveId(null)
          setError(`Could not read it aloud: ${errorMessage(caught)}`)
        })
    },
    [release],
  )

  return { activeId, loading, error, speak, stop, audioRef }
}

const READ_ALOUD_KEY = 'nova.readAloud'

/** The chat's "read replies aloud" switch, remembered across visits. */
export function useReadAloud(): [boolean, (on: boolean) => void] {
  const [on, setOn] = useState(() => localStorage.getItem(READ_ALOUD_KEY) === 'true')
  const set = useCallback((next: boolean) => {
    setOn(next)
    if (next) localStorage.setItem(READ_ALOUD_KEY, 'true')
    else localStorage.removeItem(READ_ALOUD_KEY)
  }, [])
  return [on, set]
}
