import { lazy, Suspense, useEffect, useLayoutEffect, useRef } from 'react'

import type { StoredChatMessage } from '../../api/chat'
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
}

interface MessageListProps {
  messages: StoredChatMessage[]
  pending: PendingTurn | null
  assistantName: string
}

export function MessageList({ messages, pending, assistantName }: MessageListProps) {
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
}: {
  role: 'user' | 'assistant'
  text: string
  name: string
  note?: string
  streaming?: boolean
  status?: string | null
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
    </div>
  )
}
