import { useCallback, useEffect, useRef, useState } from 'react'

// The Web Speech API is not in TypeScript's DOM library; these are the parts the chat uses.
interface RecognitionAlternative {
  transcript: string
}
interface RecognitionResult {
  readonly isFinal: boolean
  readonly [index: number]: RecognitionAlternative
}
interface RecognitionEvent {
  readonly resultIndex: number
  readonly results: { readonly length: number; readonly [index: number]: RecognitionResult }
}
interface Recognition {
  lang: string
  continuous: boolean
  interimResults: boolean
  onresult: ((event: RecognitionEvent) => void) | null
  onerror: ((event: { error: string }) => void) | null
  onend: (() => void) | null
  start(): void
  stop(): void
  abort(): void
}
type RecognitionConstructor = new () => Recognition

function recognitionConstructor(): RecognitionConstructor | undefined {
  const scope = window as unknown as { SpeechRecognition?: RecognitionConstructor; webkitSpeechRecognition?: RecognitionConstructor }
  return scope.SpeechRecognition ?? scope.webkitSpeechRecognition
}

export interface SpeechInput {
  /** False in browsers without the Web Speech API (Firefox): the chat hides the microphone button. */
  supported: boolean
  listening: boolean
  error: string | null
  start: () => void
  stop: () => void
}

/**
 * Dictation through the browser's own speech recognition. `onText` receives each finished phrase; the
 * composer appends it to what is already typed, so speaking never replaces typed text.
 */
export function useSpeechInput(onText: (text: string) => void): SpeechInput {
  const [listening, setListening] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const recognition = useRef<Recognition | null>(null)
  const onTextRef = useRef(onText)
  onTextRef.current = onText
  const supported = recognitionConstructor() !== undefined

  useEffect(() => () => recognition.current?.abort(), [])

  const start = useCallback(() => {
    const Constructor = recognitionConstructor()
    if (!Constructor || recognition.current) return
    const instance = new Constructor()
    instance.lang = navigator.language || 'en-US'
    instance.continuous = true
    instance.interimResults = false
    instance.onresult = (event) => {
      for (let i = event.resultIndex; i < event.results.length; i++) {
        const result = event.results[i]
        if (result?.isFinal && result[0]) onTextRef.current(result[0].transcript.trim())
      }
    }
    instance.onerror = (event) => {
      setError(event.error === 'not-allowed' ? 'Microphone access was refused.' : `Speech recognition failed (${event.error}).`)
    }
    instance.onend = () => {
      recognition.current = null
      setListening(false)
    }
    recognition.current = instance
    setError(null)
    setListening(true)
    instance.start()
  }, [])

  const stop = useCallback(() => recognition.current?.stop(), [])

  return { supported, listening, error, start, stop }
}
