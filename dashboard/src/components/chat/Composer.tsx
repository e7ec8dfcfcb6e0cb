import { Globe, Mic, MicOff, Send, Square } from 'lucide-react'
import { useEffect, useRef, type FormEvent, type KeyboardEvent } from 'react'

import { useSpeechInput } from '../../speech'
import { useHoldToTalk, type HoldToTalk } from '../../voice'
import { Button } from '../Button'
import { Spinner } from '../Spinner'

// Matches nova_contracts.chat.ChatText.
export const MAX_MESSAGE_CHARS = 32_000

interface ComposerProps {
  value: string
  onChange: (value: string) => void
  onSend: () => void
  onStop: () => void
  streaming: boolean
  placeholder: string
  /** voice-service runs: the microphone records and transcribes there (hold to talk) instead of the browser's dictation. */
  voice?: boolean
  /** What hold-to-talk heard; the chat sends it. */
  onSpoken?: (text: string) => void
  /** Research mode: the turn may also search and fetch the web. The toggle shows only with `onResearchChange`. */
  research?: boolean
  onResearchChange?: (on: boolean) => void
}

/** The message box: Enter sends, Shift+Enter starts a new line, the microphone dictates into it. */
export function Composer({
  value,
  onChange,
  onSend,
  onStop,
  streaming,
  placeholder,
  voice = false,
  onSpoken,
  research = false,
  onResearchChange,
}: ComposerProps) {
  const textarea = useRef<HTMLTextAreaElement>(null)
  const valueRef = useRef(value)
  valueRef.current = value
  const speech = useSpeechInput((text) => {
    const current = valueRef.current
    onChange(current && !current.endsWith(' ') ? `${current} ${text}` : current + text)
  })
  const talk = useHoldToTalk((text) => onSpoken?.(text))
  const holdToTalk = voice && talk.supported && onSpoken !== undefined
  const tooLong = value.length > MAX_MESSAGE_CHARS
  const canSend = value.trim().length > 0 && !tooLong && !streaming

  // Grow with the text up to a third of the screen, then scroll inside.
  useEffect(() => {
    const element = textarea.current
    if (!element) return
    element.style.height = 'auto'
    element.style.height = `${Math.min(element.scrollHeight, window.innerHeight / 3)}px`
  }, [value])

  function submit(event: FormEvent) {
    event.preventDefault()
    if (canSend) onSend()
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // isComposing: Enter that confirms an IME candidate (Japanese, Chinese input) is not "send".
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault()
      if (canSend) onSend()
    }
  }

  return (
    <form onSubmit={submit} className="rounded-xl border border-line-strong bg-panel p-2 focus-within:border-teal-500">
      <label htmlFor="chat-message" className="sr-only">
        Message
      </label>
      <textarea
        id="chat-message"
        ref={textarea}
        rows={1}
        value={value}
        placeholder={placeholder}
        onChange={(event) => onChange(event.target.value)}
        onKeyDown={onKeyDown}
        aria-invalid={tooLong || undefined}
        aria-describedby="chat-message-hint"
        className="block max-h-[33vh] w-full resize-none bg-transparent px-2 py-1.5 text-sm placeholder:text-faint focus:outline-none"
      />
      <div className="flex items-center justify-between gap-2 pt-1">
        <p id="chat-message-hint" className={`px-2 text-xs ${tooLong || speech.error || (holdToTalk && talk.error) ? 'text-rose-700 dark:text-rose-300' : 'text-muted'}`}>
          {tooLong
            ? `Too long: ${value.length.toLocaleString()} of ${MAX_MESSAGE_CHARS.toLocaleString()} characters.`
            : holdToTalk
              ? talkHint(talk)
              : (speech.error ?? (speech.listening ? 'Listening… speak, then press the microphone again.' : 'Enter to send, Shift+Enter for a new line.'))}
        </p>
        <div className="flex shrink-0 gap-1">
          {onResearchChange && (
            <Button
              variant="ghost"
              onClick={() => onResearchChange(!research)}
              aria-pressed={research}
              title={research ? 'Research on: the answer may search and read the web' : 'Research: let the answer search and read the web'}
              className={research ? 'bg-accent-soft text-accent-text' : ''}
            >
              <Globe className="h-4 w-4" aria-hidden />
              Research
            </Button>
          )}
          {holdToTalk && <TalkButton talk={talk} disabled={streaming} />}
          {!holdToTalk && speech.supported && (
            <Button
              variant="ghost"
              onClick={speech.listening ? speech.stop : speech.start}
              aria-pressed={speech.listening}
              aria-label={speech.listening ? 'Stop dictation' : 'Dictate'}
            >
              {speech.listening ? <MicOff className="h-4 w-4" aria-hidden /> : <Mic className="h-4 w-4" aria-hidden />}
            </Button>
          )}
          {streaming ? (
            <Button variant="danger" onClick={onStop}>
              <Square className="h-3.5 w-3.5" aria-hidden />
              Stop
            </Button>
          ) : (
            <Button type="submit" variant="primary" disabled={!canSend}>
              <Send className="h-4 w-4" aria-hidden />
              Send
            </Button>
          )}
        </div>
      </div>
    </form>
  )
}

function talkHint(talk: HoldToTalk): string {
  if (talk.state === 'recording' || talk.state === 'starting') return 'Recording… release to send.'
  if (talk.state === 'transcribing') return 'Transcribing…'
  return talk.error ?? 'Enter to send, Shift+Enter for a new line; hold the microphone to talk.'
}

/** Held with the pointer, or with Space/Enter from the keyboard: records while held, sends on release. */
function TalkButton({ talk, disabled }: { talk: HoldToTalk; disabled: boolean }) {
  const recording = talk.state === 'recording' || talk.state === 'starting'
  return (
    <button
      type="button"
      disabled={disabled || talk.state === 'transcribing'}
      aria-pressed={recording}
      aria-label={recording ? 'Recording: release to send' : 'Hold to talk'}
      title="Hold to talk"
      data-testid="hold-to-talk"
      onPointerDown={(event) => {
        event.preventDefault()
        event.currentTarget.setPointerCapture?.(event.pointerId)
        talk.start()
      }}
      onPointerUp={talk.stop}
      onPointerCancel={talk.stop}
      onKeyDown={(event) => {
        if ((event.key === ' ' || event.key === 'Enter') && !event.repeat) {
          event.preventDefault()
          talk.start()
        }
      }}
      onKeyUp={(event) => {
        if (event.key === ' ' || event.key === 'Enter') talk.stop()
      }}
      onContextMenu={(event) => event.preventDefault()}
      className={`inline-flex touch-none items-center justify-center rounded-md px-3 py-1.5 text-sm font-medium transition-colors select-none disabled:cursor-not-allowed disabled:text-faint ${
        recording ? 'bg-rose-600 text-white' : 'text-muted hover:bg-sunken hover:text-fg'
      }`}
    >
      {talk.state === 'transcribing' ? <Spinner className="h-4 w-4" label={null} /> : <Mic className="h-4 w-4" aria-hidden />}
    </button>
  )
}
