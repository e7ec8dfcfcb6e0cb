import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Check, Pencil, Plus, Trash, X } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { chatApi, chatQueries, type ConversationSummary } from '../../api/chat'
import { errorMessage } from '../../api/client'
import { timeAgo } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { ConfirmDialog } from '../ConfirmDialog'
import { ErrorNotice } from '../States'
import { Spinner } from '../Spinner'

const MAX_TITLE = 200

interface ConversationListProps {
  currentId: string | null
  onSelect: (id: string | null) => void
}

export function ConversationList({ currentId, onSelect }: ConversationListProps) {
  const conversations = useQuery(chatQueries.conversations())
  const [deleting, setDeleting] = useState<ConversationSummary | null>(null)

  return (
    <nav aria-label="Conversations" className="flex h-full flex-col">
      <div className="p-3">
        <Button variant="primary" className="w-full" onClick={() => onSelect(null)}>
          <Plus className="h-4 w-4" aria-hidden />
          New chat
        </Button>
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto px-2 pb-3">
        {conversations.isPending && (
          <p className="flex items-center gap-2 px-2 py-3 text-sm text-muted">
            <Spinner className="h-4 w-4" label={null} /> Loading conversations…
          </p>
        )}
        {conversations.isError && (
          <ErrorNotice title="Could not load conversations" error={conversations.error} onRetry={() => void conversations.refetch()} />
        )}
        {conversations.isSuccess && conversations.data.length === 0 && (
          <p className="px-2 py-3 text-sm text-muted">No conversations yet. Your first message starts one.</p>
        )}
        <ul className="space-y-0.5">
          {conversations.data?.map((conversation) => (
            <li key={conversation.id}>
              <ConversationItem
                conversation={conversation}
                current={conversation.id === currentId}
                onSelect={() => onSelect(conversation.id)}
                onDelete={() => setDeleting(conversation)}
              />
            </li>
          ))}
        </ul>
      </div>
      {deleting && (
        <DeleteConversation
          conversation={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={() => {
            if (deleting.id === currentId) onSelect(null)
          }}
        />
      )}
    </nav>
  )
}

export function conversationTitle(conversation: Pick<ConversationSummary, 'title'>): string {
  return conversation.title?.trim() || 'Untitled conversation'
}

function ConversationItem({
  conversation,
  current,
  onSelect,
  onDelete,
}: {
  conversation: ConversationSummary
  current: boolean
  onSelect: () => void
  onDelete: () => void
}) {
  const [renaming, setRenaming] = useState(false)
  const title = conversationTitle(conversation)

  if (renaming) return <RenameForm conversation={conversation} onDone={() => setRenaming(false)} />
  return (
    <div className={`group flex items-center rounded-md ${current ? 'bg-accent-soft' : 'hover:bg-sunken'}`}>
      <button
        type="button"
        onClick={onSelect}
        aria-current={current ? 'page' : undefined}
        className="min-w-0 flex-1 px-2 py-1.5 text-left"
      >
        <span className={`block truncate text-sm ${current ? 'font-medium text-accent-text' : ''}`}>{title}</span>
        <span className="block text-xs text-muted">{timeAgo(conversation.last_message_at ?? conversation.updated_at)}</span>
      </button>
      {/* Visible on hover and on keyboard focus, and always on touch screens (no hover there). */}
      <div className="flex shrink-0 pr-1 opacity-100 md:opacity-0 md:group-focus-within:opacity-100 md:group-hover:opacity-100">
        <button
          type="button"
          onClick={() => setRenaming(true)}
          aria-label={`Rename ${title}`}
          className="rounded p-1 text-muted hover:bg-panel hover:text-fg"
        >
          <Pencil className="h-3.5 w-3.5" aria-hidden />
        </button>
        <button
          type="button"
          onClick={onDelete}
          aria-label={`Delete ${title}`}
          className="rounded p-1 text-muted hover:bg-panel hover:text-rose-600"
        >
          <Trash className="h-3.5 w-3.5" aria-hidden />
        </button>
      </div>
    </div>
  )
}

function RenameForm({ conversation, onDone }: { conversation: ConversationSummary; onDone: () => void }) {
  const queryClient = useQueryClient()
  const [title, setTitle] = useState(conversation.title ?? '')
  const [error, setError] = useState<string | null>(null)
  const rename = useMutation({
    mutationFn: (next: string) => chatApi.rename(conversation.id, next),
    meta: { errorToast: false },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: chatQueries.all })
      onDone()
    },
    onError: (err) => setError(errorMessage(err)),
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const trimmed = title.trim()
    if (!trimmed) return setError('A title cannot be empty.')
    if (trimmed.length > MAX_TITLE) return setError(`At most ${MAX_TITLE} characters.`)
    rename.mutate(trimmed)
  }

  return (
    <form onSubmit={submit} className="space-y-1 rounded-md bg-sunken p-1.5" noValidate>
      <div className="flex items-center gap-1">
        <input
          aria-label="Conversation title"
          autoFocus
          value={title}
          onChange={(event) => {
            setTitle(event.target.value)
            setError(null)
          }}
          onKeyDown={(event) => {
            if (event.key === 'Escape') onDone()
          }}
          aria-invalid={error ? true : undefined}
          className="min-w-0 flex-1 rounded border border-line-strong bg-panel px-2 py-1 text-sm focus:border-teal-500 focus:outline-none"
        />
        <button type="submit" aria-label="Save title" disabled={rename.isPending} className="rounded p-1 text-muted hover:text-fg">
          <Check className="h-4 w-4" aria-hidden />
        </button>
        <button type="button" aria-label="Cancel renaming" onClick={onDone} className="rounded p-1 text-muted hover:text-fg">
          <X className="h-4 w-4" aria-hidden />
        </button>
      </div>
      {error && <p role="alert" className="px-1 text-xs text-rose-700 dark:text-rose-300">{error}</p>}
    </form>
  )
}

function DeleteConversation({
  conversation,
  onClose,
  onDeleted,
}: {
  conversation: ConversationSummary
  onClose: () => void
  onDeleted: () => void
}) {
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: () => chatApi.remove(conversation.id),
    meta: { errorToast: false },
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: chatQueries.conversation(conversation.id).queryKey })
      void queryClient.invalidateQueries({ queryKey: chatQueries.conversations().queryKey })
      toast.success('Conversation deleted')
      onDeleted()
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title="Delete this conversation?"
      confirmLabel="Delete conversation"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      busy={remove.isPending}
      error={remove.error ? errorMessage(remove.error) : null}
    >
      “{conversationTitle(conversation)}” and its {conversation.message_count} messages will be deleted. What Nova learned from it stays in
      memory.
    </ConfirmDialog>
  )
}
