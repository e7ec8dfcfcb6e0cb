import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { RotateCcw, Trash } from 'lucide-react'
import { useState } from 'react'

import { errorMessage } from '../../api/client'
import { memoryApi, memoryQueries, type IngestDeadLetter } from '../../api/memory'
import { count, dateTime, timeAgo } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { ConfirmDialog } from '../ConfirmDialog'
import { FormError } from '../Field'
import { Panel } from '../Page'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'
import { Pager } from './SourcesPanel'

const PAGE_SIZE = 20

/** The ingestion queue's depth, and the items that failed every attempt (re-queue or drop them). */
export function IngestionPanel() {
  const queue = useQuery(memoryQueries.ingestQueue())
  return (
    <div className="space-y-4">
      <Panel title="Queue">
        {queue.isPending && <Loading label="Loading the queue…" />}
        {queue.isError && <ErrorNotice title="Could not read the ingestion queue" error={queue.error} onRetry={() => void queue.refetch()} />}
        {queue.isSuccess && (
          <dl className="grid grid-cols-3 gap-3" aria-label="Queue depth">
            <Tile label="Waiting" value={queue.data.queued} />
            <Tile label="Being formed" value={queue.data.processing} />
            <Tile label="Dead letters" value={queue.data.dead_letters} alarm={queue.data.dead_letters > 0} />
          </dl>
        )}
        <p className="mt-3 text-xs text-muted">
          Chat turns, finished tasks, feed items and crawled pages wait here until the model turns them into memories.
        </p>
      </Panel>
      <DeadLetters />
    </div>
  )
}

function Tile({ label, value, alarm = false }: { label: string; value: number; alarm?: boolean }) {
  return (
    <div className="rounded-md bg-sunken px-3 py-2">
      <dt className="text-xs text-muted">{label}</dt>
      <dd className={`font-mono text-xl tabular-nums ${alarm ? 'text-rose-700 dark:text-rose-300' : ''}`}>{count(value)}</dd>
    </div>
  )
}

function DeadLetters() {
  const queryClient = useQueryClient()
  const [offset, setOffset] = useState(0)
  const [deleting, setDeleting] = useState<IngestDeadLetter | null>(null)
  const letters = useQuery(memoryQueries.deadLetters({ offset, limit: PAGE_SIZE }))
  const refresh = () => void queryClient.invalidateQueries({ queryKey: memoryQueries.all })

  const requeue = useMutation({
    mutationFn: (letter: IngestDeadLetter) => memoryApi.requeueDeadLetter(letter.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Put back in the queue with a fresh set of attempts')
      refresh()
    },
  })
  const remove = useMutation({
    mutationFn: (letter: IngestDeadLetter) => memoryApi.removeDeadLetter(letter.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Dead letter dropped')
      setDeleting(null)
      refresh()
    },
  })
  const items = letters.data?.items ?? []

  return (
    <Panel
      title={
        <span className="flex items-center gap-2">
          Dead letters
          {letters.isSuccess && <Badge className={letters.data.total ? badgeTone.bad : badgeTone.neutral}>{count(letters.data.total)}</Badge>}
        </span>
      }
    >
      <p className="mb-3 text-sm text-muted">Items that failed every attempt, with their last error. Re-queue one once the cause is fixed.</p>
      {requeue.isError && (
        <div className="mb-3">
          <FormError message={`Could not re-queue ${requeue.variables?.id ?? 'it'}: ${errorMessage(requeue.error)}`} />
        </div>
      )}
      {letters.isPending && <Loading label="Loading dead letters…" />}
      {letters.isError && <ErrorNotice title="Could not load the dead letters" error={letters.error} onRetry={() => void letters.refetch()} />}
      {letters.isSuccess && items.length === 0 && <EmptyState title="No dead letters">Every item was formed or is still being tried.</EmptyState>}
      {items.length > 0 && (
        <ul className="divide-y divide-line" aria-label="Dead letters">
          {items.map((letter) => (
            <li key={letter.id} className="py-3">
              <div className="flex flex-wrap items-start justify-between gap-3">
                <div className="min-w-0 flex-1">
                  <p className="text-sm break-words text-rose-800 dark:text-rose-200">{letter.error}</p>
                  <p className="mt-0.5 text-xs text-muted">
                    <span className="font-mono">{letter.id}</span> · {count(letter.attempts)} {letter.attempts === 1 ? 'attempt' : 'attempts'} · failed{' '}
                    <time dateTime={letter.failed_at} title={dateTime(letter.failed_at)}>
                      {timeAgo(letter.failed_at)}
                    </time>
                  </p>
                </div>
                <div className="flex gap-1">
                  <Button
                    size="sm"
                    busy={requeue.isPending && requeue.variables?.id === letter.id}
                    onClick={() => requeue.mutate(letter)}
                    aria-label={`Re-queue ${letter.id}`}
                  >
                    <RotateCcw className="h-3.5 w-3.5" aria-hidden /> Re-queue
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => setDeleting(letter)} aria-label={`Delete ${letter.id}`}>
                    <Trash className="h-3.5 w-3.5" aria-hidden /> Delete
                  </Button>
                </div>
              </div>
              <details className="mt-1 text-xs">
                <summary className="cursor-pointer text-muted">Payload</summary>
                <pre className="mt-1 max-h-60 overflow-auto rounded-md bg-sunken p-2 break-all whitespace-pre-wrap">{letter.payload}</pre>
              </details>
            </li>
          ))}
        </ul>
      )}
      {letters.isSuccess && <Pager offset={offset} shown={items.length} total={letters.data.total} pageSize={PAGE_SIZE} onPage={setOffset} />}
      {deleting && (
        <ConfirmDialog
          title="Drop this dead letter?"
          confirmLabel="Drop dead letter"
          busy={remove.isPending}
          error={remove.error ? errorMessage(remove.error) : null}
          onCancel={() => {
            setDeleting(null)
            remove.reset()
          }}
          onConfirm={() => remove.mutate(deleting)}
        >
          Its text is never turned into memories. This cannot be undone.
        </ConfirmDialog>
      )}
    </Panel>
  )
}
