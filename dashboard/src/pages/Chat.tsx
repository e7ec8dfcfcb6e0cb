import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { MessagesSquare, Volume2, VolumeX, X } from 'lucide-react'
import { useCallback, useEffect, useRef, useState } from 'react'
import { useSearchParams } from 'react-router'

import { chatQueries, streamChat, type ChatStreamEvent } from '../api/chat'
import { ApiError, errorMessage } from '../api/client'
import { configQueries } from '../api/config'
import { journalApi, journalQueries, JOURNAL_SESSION_ID } from '../api/journal'
import { Composer } from '../components/chat/Composer'
import { ConversationList, conversationTitle } from '../components/chat/ConversationList'
import { MessageList, type PendingTurn } from '../components/chat/MessageList'
import { ModelSwitcher } from '../components/chat/ModelSwitcher'
import { recallFromMeta } from '../components/memory/RecalledMemories'
import { ErrorNotice, Loading } from '../components/States'
import { useReadAloud, useSpeaker, useVoiceAvailable } from '../voice'

const DRAFT_KEY = 'nova.chatDraft'

/** Chat with the primary agent: streamed Markdown replies, conversations, stop, dictation, voice. */
export function Component() {
  const [params, setParams] = useSearchParams()
  const conversationId = params.get('c')
  const [listOpen, setListOpen] = useState(false)
  const [model, setModel] = useChatModel()
  const voice = useVoiceAvailable()
  const speaker = useSpeaker()
  const [readAloud, setReadAloud] = useReadAloud()
  // Read the finished reply aloud when the switch is on; its stored id is not known yet, so it plays under "latest".
  const onAnswered = voice.available && readAloud ? (text: string) => speaker.speak('latest', text) : undefined
  const chat = useChatTurn(conversationId, (id) => setParams(id ? { c: id } : {}, { replace: false }), onAnswered)
  const identity = useQuery(configQueries.identity())
  const conversation = useQuery({ ...chatQueries.conversation(conversationId ?? ''), enabled: conversationId !== null })
  const name = identity.data?.name ?? 'Nova'

  // The e2e measures time to interactive up to this mark: the composer is on screen and accepts input.
  useEffect(() => {
    if (performance.getEntriesByName('nova:chat-interactive').length === 0) performance.mark('nova:chat-interactive')
  }, [])

  function select(id: string | null) {
    setListOpen(false)
    if (id === conversationId) return
    chat.reset()
    setParams(id ? { c: id } : {})
  }

  // In the Journal the person writes to cortex, which reads it on its next cycle: no agent answers there.
  const journal = conversation.data?.session_id === JOURNAL_SESSION_ID
  // Research mode stays on for the following turns until switched off: a person researching asks several questions.
  const [research, setResearch] = useState(false)
  const queryClient = useQueryClient()
  const writeJournal = useMutation({
    mutationFn: journalApi.write,
    onSuccess: () => {
      chat.setDraft('')
      void queryClient.invalidateQueries({ queryKey: journalQueries.all })
      if (conversationId) void queryClient.invalidateQueries({ queryKey: chatQueries.conversation(conversationId).queryKey })
    },
  })
  function send(spoken?: string) {
    if (journal) {
      const text = [chat.draft.trim(), spoken?.trim()].filter(Boolean).join(' ')
      if (text && !writeJournal.isPending) writeJournal.mutate(text)
      return
    }
    void chat.send(conversation.data?.session_id ?? null, model, spoken, research)
  }

  const messages = conversation.data?.messages ?? []
  const empty = conversationId === null && !chat.pending

  return (
    <div className="flex h-[calc(100dvh-53px)] md:h-dvh">
      <aside className="hidden w-64 shrink-0 border-r border-line bg-panel md:block">
        <ConversationList currentId={conversationId} onSelect={select} />
      </aside>

      <section aria-label="Chat" className="flex min-w-0 flex-1 flex-col">
        <header className="flex items-center gap-2 border-b border-line px-4 py-2">
          <button
            type="button"
            onClick={() => setListOpen((open) => !open)}
            aria-expanded={listOpen}
            aria-label={listOpen ? 'Close conversations' : 'Show conversations'}
            className="rounded-md p-1.5 text-muted hover:bg-sunken md:hidden"
          >
            {listOpen ? <X className="h-4 w-4" aria-hidden /> : <MessagesSquare className="h-4 w-4" aria-hidden />}
          </button>
          <h1 className="min-w-0 flex-1 truncate text-base font-semibold">
            {conversation.data ? conversationTitle(conversation.data) : conversationId ? '…' : `Chat with ${name}`}
          </h1>
          {voice.available && (
            <button
              type="button"
              onClick={() => {
                if (readAloud) speaker.stop()
                setReadAloud(!readAloud)
              }}
              aria-pressed={readAloud}
              aria-label="Read replies aloud"
              title={readAloud ? 'Replies are read aloud' : 'Read replies aloud'}
              className={`rounded-md p-1.5 hover:bg-sunken ${readAloud ? 'text-accent' : 'text-muted'}`}
            >
              {readAloud ? <Volume2 className="h-4 w-4" aria-hidden /> : <VolumeX className="h-4 w-4" aria-hidden />}
            </button>
          )}
          {!journal && <ModelSwitcher value={model} onChange={setModel} />}
        </header>

        {/* On a phone the conversation list takes the place of the messages while it is open. */}
        {listOpen && (
          <div className="min-h-0 flex-1 bg-panel md:hidden">
            <ConversationList currentId={conversationId} onSelect={select} />
          </div>
        )}

        <div data-chat-scroll className={`${listOpen ? 'hidden md:block' : ''} min-h-0 flex-1 overflow-y-auto px-4 py-4`}>
          <div className="mx-auto max-w-3xl">
            {empty && <Greeting name={name} greeting={identity.data?.greeting} loading={identity.isPending} />}
            {conversationId && conversation.isPending && <Loading label="Loading conversation…" />}
            {conversationId && conversation.isError && (
              <ErrorNotice title="Could not load this conversation" error={conversation.error} onRetry={() => void conversation.refetch()} />
            )}
            <MessageList messages={messages} pending={chat.pending} assistantName={name} speaker={voice.available ? speaker : undefined} />
            {speaker.error && <p role="alert" className="mt-2 text-xs text-rose-700 dark:text-rose-300">{speaker.error}</p>}
            {/* The one player for replies read aloud (a speaker button or "read replies aloud"). */}
            <audio ref={speaker.audioRef} data-testid="voice-player" className="hidden" />
            {chat.error && (
              <div className="mt-4">
                <ErrorNotice title="The message was not answered" error={chat.error} />
              </div>
            )}
          </div>
        </div>

        <div className={`${listOpen ? 'hidden md:block' : ''} border-t border-line px-4 py-3`}>
          <div className="mx-auto max-w-3xl">
            <p className="sr-only" aria-live="polite">
              {chat.pending?.streaming ? `${name} is replying` : ''}
            </p>
            <Composer
              value={chat.draft}
              onChange={chat.setDraft}
              onSend={() => send()}
              onStop={chat.stop}
              streaming={Boolean(chat.pending?.streaming)}
              placeholder={journal ? 'Write to cortex; it reads this on its next cycle…' : `Message ${name}…`}
              voice={voice.available}
              onSpoken={(text) => send(text)}
              research={research}
              onResearchChange={journal ? undefined : setResearch}
            />
          </div>
        </div>
      </section>
    </div>
  )
}

function Greeting({ name, greeting, loading }: { name: string; greeting: string | undefined; loading: boolean }) {
  return (
    <div className="mb-6 py-8 text-center">
      <p className="text-2xl font-semibold tracking-tight" data-testid="assistant-name">
        {loading ? '\u00a0' : name}
      </p>
      <p className="mx-auto mt-2 max-w-xl text-muted" data-testid="greeting">
        {greeting ?? '\u00a0'}
      </p>
    </div>
  )
}

/**
 * One exchange at a time: the typed draft (kept across reloads), the turn being streamed, and what went
 * wrong. A refusal before the stream starts puts the message back in the box, so nothing typed is lost.
 */
function useChatTurn(conversationId: string | null, openConversation: (id: string) => void, onAnswered?: (text: string) => void) {
  const queryClient = useQueryClient()
  const [draft, setDraftState] = useState(() => localStorage.getItem(DRAFT_KEY) ?? '')
  const [pending, setPending] = useState<PendingTurn | null>(null)
  const [error, setError] = useState<Error | null>(null)
  const controller = useRef<AbortController | null>(null)
  // Bumped when the user leaves the turn (another conversation, another page): a turn that finishes
  // afterwards must not pull them back to its conversation.
  const generation = useRef(0)

  const setDraft = useCallback((value: string) => {
    setDraftState(value)
    if (value) localStorage.setItem(DRAFT_KEY, value)
    else localStorage.removeItem(DRAFT_KEY)
  }, [])

  // Leaving the page mid-answer stops reading; the server keeps what was written so far.
  useEffect(
    () => () => {
      generation.current += 1
      controller.current?.abort()
    },
    [],
  )

  const reset = useCallback(() => {
    generation.current += 1
    controller.current?.abort()
    setPending(null)
    setError(null)
  }, [])

  /** Send the draft; `spoken` (hold-to-talk) is added after whatever is already typed. */
  async function send(sessionId: string | null, model: string | null, spoken?: string, research = false) {
    const typed = draft.trim()
    const message = spoken ? [typed, spoken.trim()].filter(Boolean).join(' ') : typed
    if (!message || controller.current) return
    const abort = new AbortController()
    controller.current = abort
    const mine = generation.current
    setError(null)
    setDraft('')
    setPending({ user: message, assistant: '', status: null, userMessageId: null, streaming: true, stopped: false })

    let answeredIn = conversationId
    let stored = false
    let answer = ''
    let failed = false
    const onEvent = (event: ChatStreamEvent) => {
      const meta = event.meta ?? {}
      if (typeof meta.conversation_id === 'string') answeredIn = meta.conversation_id
      if (typeof meta.user_message_id === 'string') {
        stored = true
        const id = meta.user_message_id
        setPending((turn) => turn && { ...turn, userMessageId: id })
      }
      const recall = recallFromMeta(meta)
      if (recall) setPending((turn) => turn && { ...turn, recall })
      if (event.delta) {
        const delta = event.delta
        answer += delta
        setPending((turn) => turn && { ...turn, assistant: turn.assistant + delta, status: null })
      }
      if (event.status) {
        const status = event.status
        setPending((turn) => turn && { ...turn, status })
      }
      if (event.error) {
        failed = true
        setError(new Error(event.error))
      }
    }

    let stopped = false
    try {
      await streamChat({ message, session_id: sessionId, model, ...(research ? { research } : {}) }, { signal: abort.signal, onEvent })
    } catch (caught) {
      if (abort.signal.aborted) {
        stopped = true
      } else if (!stored) {
        // Refused before the server kept the message: give it back to the user to edit or resend (the
        // draft is stored, so it is back in the box even if they have moved on meanwhile).
        controller.current = null
        const typedSince = localStorage.getItem(DRAFT_KEY)
        setDraft(typedSince ? `${message}\n\n${typedSince}` : message)
        if (generation.current !== mine) return
        setPending(null)
        setError(caught instanceof Error ? caught : new Error(errorMessage(caught)))
        return
      } else {
        failed = true
        setError(caught instanceof ApiError ? caught : new Error(errorMessage(caught)))
      }
    }
    controller.current = null
    if (generation.current !== mine) return
    setPending((turn) => turn && { ...turn, streaming: false, stopped, status: null })
    if (!stopped && !failed && answer.trim()) onAnswered?.(answer)

    // Swap the streamed copy for the stored one only once it has arrived, so nothing flickers.
    void queryClient.invalidateQueries({ queryKey: chatQueries.conversations().queryKey })
    if (answeredIn) {
      // A stopped turn's partial answer is saved by the server as the connection closes; give it a moment.
      if (stopped) await new Promise((resolve) => setTimeout(resolve, 400))
      await queryClient.fetchQuery({ ...chatQueries.conversation(answeredIn), staleTime: 0 }).catch(() => undefined)
      if (generation.current !== mine) return
      if (answeredIn !== conversationId) openConversation(answeredIn)
    }
    setPending(null)
  }

  function stop() {
    controller.current?.abort()
  }

  return { draft, setDraft, pending, error, send, stop, reset }
}

// The switcher's choice outlives the page: a user who picked a model keeps it for the next conversation.
const MODEL_KEY = 'nova.chatModel'

function useChatModel(): [string | null, (model: string | null) => void] {
  const [model, setModelState] = useState(() => localStorage.getItem(MODEL_KEY))
  const setModel = useCallback((next: string | null) => {
    setModelState(next)
    if (next) localStorage.setItem(MODEL_KEY, next)
    else localStorage.removeItem(MODEL_KEY)
  }, [])
  return [model, setModel]
}
