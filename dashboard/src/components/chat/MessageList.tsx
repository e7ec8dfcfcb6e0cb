import { Square, Volume2 } from 'lucide-react'
import { lazy, Suspense, useEffect, useLayoutEffect, useRef, type ReactNode } from 'react'

import type { StoredChatMessage } from '../../api/chat'
import type { Speaker } from '../../voice'
import { recallFromMeta, RecalledMemories, type RecallSummary } from '../memory/RecalledMemories'
import { Spinner } from '../Spinner'

const Markdown = lazy(() => import('../Markdown'))

export interface PendingTurn {
  user: string
  assistant: string
  status: string | null
  /** Set from the stream's first `meta`: the stored copy of `user`, so it is not shown twice. */
  userMessageId: string | null
  streaming: boolean
  stopped: boolean
  /** The memories the turn recalled, from the stream's `meta` (see recallFromMeta). */
  recall?: RecallSummary | null
}

interface MessageListProps {
  messages: StoredChatMessage[]
  pending: PendingTurn | null
  assistantName: string
  /** voice-service runs: each stored reply gets a speaker button. */
  speaker?: Speaker
}

export function MessageList({ messages, pending, assistantName, speaker }: MessageListProps) {
  const end = useRef<HTMLDivElement>(null)
  const scroller = useRef<HTMLElement | null>(null)
  const stickToBottom = useRef(true)
  const visible = messages.filter((m) => m.role === 'user' || m.role === 'assistant')
  const showPendingUser = pending && !visible.some((m) => m.id === pending.userMessageId)

  // Follow the answer as it streams, unless the user scrolled up to read something earlier.
  useEffect(() => {
    const container = end.current?.closest<HTMLElement>('[data-chat-scroll]') ?? null
    scroller.current = container
    if (!container) return
    const onScroll = () => {
      stickToBottom.current = container.scrollHeight - container.scrollTop - container.clientHeight < 80
    }
    container.addEventListener('scroll', onScroll, { passive: true })
    return () => container.removeEventListener('scroll', onScroll)
  }, [])

  useLayoutEffect(() => {
    if (stickToBottom.current) end.current?.scrollIntoView?.({ block: 'end' })
  }, [visible.length, pending?.assistant, pending?.status])

  return (
    <ol aria-label="Messages" className="space-y-4">
      {visible.map((message) => (
        <li key={message.id}>
          <Bubble
            role={message.role === 'user' ? 'user' : 'assistant'}
            text={message.content}
            name={assistantName}
            note={message.metadata?.interrupted ? 'stopped' : (message.model ?? undefined)}
            action={message.role === 'assistant' && speaker && message.content ? <SpeakButton speaker={speaker} id={message.id} text={message.content} /> : undefined}
            recall={message.role === 'assistant' ? recallFromMeta(message.metadata) : null}
          />
        </li>
      ))}
      {pending && showPendingUser && (
        <li>
          <Bubble role="user" text={pending.user} name={assistantName} />
        </li>
      )}
      {pending && (pending.streaming || pending.assistant) && (
        <li>
          <Bubble
            role="assistant"
            text={pending.assistant}
            name={assistantName}
            streaming={pending.streaming}
            status={pending.status}
            note={pending.stopped ? 'stopped' : undefined}
            recall={pending.recall}
          />
        </li>
      )}
      <div ref={end} />
    </ol>
  )
}

function Bubble({
  role,
  text,
  name,
  note,
  streaming = false,
  status = null,
  action,
  recall = null,
}: {
  role: 'user' | 'assistant'
  text: string
  name: string
  note?: string
  streaming?: boolean
  status?: string | null
  action?: ReactNode
  recall?: RecallSummary | null
}) {
  if (role === 'user') {
    return (
      <div className="flex justify-end">
        <div className="max-w-[85%] rounded-2xl rounded-br-sm bg-accent px-4 py-2 text-sm break-words whitespace-pre-wrap text-white">
          <span className="sr-only">You: </span>
          {text}
        </div>
      </div>
    )
  }
  return (
    <div className="flex flex-col items-start">
      <div className="mb-1 flex items-center gap-2 text-xs text-muted">
        <span className="font-medium text-fg">{name}</span>
        {note && <span>· {note}</span>}
        {action}
      </div>
      <div
        data-testid="assistant-message"
        className="max-w-full rounded-2xl rounded-tl-sm border border-line bg-panel px-4 py-2 text-sm sm:max-w-[85%]"
      >
        {text ? (
          // Plain text until the Markdown chunk has loaded, so the first tokens are never held back.
          <Suspense fallback={<p className="whitespace-pre-wrap">{text}</p>}>
            <Markdown>{text}</Markdown>
          </Suspense>
        ) : null}
        {streaming && (
          <p className="mt-1 flex items-center gap-2 text-xs text-muted">
            <Spinner className="h-3 w-3" label={null} />
            {status ?? (text ? 'writing…' : 'thinking…')}
          </p>
        )}
      </div>
      {recall && <RecalledMemories recall={recall} />}
    </div>
  )
}

function SpeakButton({ speaker, id, text }: { speaker: Speaker; id: string; text: string }) {
  const active = speaker.activeId === id
  return (
    <button
      type="button"
      onClick={() => (active ? speaker.stop() : speaker.speak(id, text))}
      aria-label={active ? 'Stop reading aloud' : 'Read aloud'}
      aria-pressed={active}
      title={active ? 'Stop' : 'Read aloud'}
      data-testid="speak-reply"
      className="rounded p-0.5 text-muted hover:bg-sunken hover:text-fg"
    >
      {active && speaker.loading ? (
        <Spinner className="h-3.5 w-3.5" label={null} />
      ) : active ? (
        <Square className="h-3.5 w-3.5" aria-hidden />
      ) : (
        <Volume2 className="h-3.5 w-3.5" aria-hidden />
      )}
    </button>
  )
}
