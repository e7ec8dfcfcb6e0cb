import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { RotateCcw } from 'lucide-react'
import { useId, useState } from 'react'

import { errorMessage } from '../api/client'
import { DEAD_LETTER_PAGE, pipelineApi, pipelineQueries, type DeadLetterEntry } from '../api/pipeline'
import { count, dateTime, timeAgo } from '../format'
import { toast } from '../toast'
import { Button } from './Button'
import { ConfirmDialog } from './ConfirmDialog'
import { Panel } from './Page'
import { Badge, badgeTone } from './StateBadge'
import { EmptyState, ErrorNotice, Loading } from './States'

/**
 * The pipeline's dead letter: tasks the reaper gave up on once their retries ran out, with its reason. A
 * re-queued task gets fresh retries and resumes from its checkpoint.
 */
export function DeadLetterPanel({ onOpen }: { onOpen: (taskId: string) => void }) {
  const queryClient = useQueryClient()
  const entries = useQuery(pipelineQueries.deadLetter())
  const stats = useQuery(pipelineQueries.queueStats())
  const [confirming, setConfirming] = useState<DeadLetterEntry | null>(null)
  const requeue = useMutation({
    mutationFn: (entry: DeadLetterEntry) => pipelineApi.requeue(entry.task_id),
    meta: { errorToast: false },
    onSuccess: (_task, entry) => {
      setConfirming(null)
      queryClient.setQueryData<DeadLetterEntry[]>(pipelineQueries.deadLetter().queryKey, (list) => list?.filter((e) => e.task_id !== entry.task_id))
      toast.success('Task re-queued; it resumes from its checkpoint')
      void queryClient.invalidateQueries({ queryKey: pipelineQueries.all })
    },
  })
  const total = stats.data?.dead_letter

  return (
    <Panel
      title={
        <span className="flex items-center gap-2">
          Dead letter
          {entries.data && <Badge className={entries.data.length ? badgeTone.bad : badgeTone.neutral}>{count(total ?? entries.data.length)}</Badge>}
        </span>
      }
    >
      <p className="mb-3 text-sm text-muted">Tasks whose worker stopped answering once too often. Re-queue one to run it again from where it stopped.</p>
      {entries.isPending && <Loading label="Loading the dead letter…" />}
      {entries.isError && <ErrorNotice title="Could not load the dead letter" error={entries.error} onRetry={() => void entries.refetch()} />}
      {entries.isSuccess && entries.data.length === 0 && <EmptyState title="No dead-lettered tasks">Every task finished or is still within its retries.</EmptyState>}
      {entries.isSuccess && entries.data.length > 0 && (
        <>
          <ul className="divide-y divide-line" aria-label="Dead-lettered tasks">
            {entries.data.map((entry) => (
              <DeadLetterRow key={entry.task_id} entry={entry} onOpen={onOpen} onRequeue={() => setConfirming(entry)} />
            ))}
          </ul>
          {total !== undefined && total > entries.data.length && entries.data.length >= DEAD_LETTER_PAGE && (
            <p className="mt-2 text-xs text-muted">
              Showing the newest {count(entries.data.length)} of {count(total)}.
            </p>
          )}
        </>
      )}
      {confirming && (
        <ConfirmDialog
          title="Re-queue this task?"
          confirmLabel="Re-queue task"
          tone="primary"
          busy={requeue.isPending}
          error={requeue.error ? errorMessage(requeue.error) : null}
          onCancel={() => {
            setConfirming(null)
            requeue.reset()
          }}
          onConfirm={() => requeue.mutate(confirming)}
        >
          <p className="mb-2 line-clamp-3 font-medium break-words text-fg">{confirming.goal}</p>
          It goes back on the queue with a fresh set of retries and resumes from its last checkpoint. If whatever stopped it is still
          wrong, it will end up here again.
        </ConfirmDialog>
      )}
    </Panel>
  )
}

function DeadLetterRow({ entry, onOpen, onRequeue }: { entry: DeadLetterEntry; onOpen: (taskId: string) => void; onRequeue: () => void }) {
  const goalId = useId()
  return (
    <li className="flex flex-wrap items-start justify-between gap-3 py-3 first:pt-0 last:pb-0">
      <div className="min-w-0 flex-1 basis-64 text-sm">
        <button type="button" id={goalId} onClick={() => onOpen(entry.task_id)} className="line-clamp-2 text-left font-medium break-words hover:underline">
          {entry.goal}
        </button>
        <p className="mt-1 break-words text-rose-800 dark:text-rose-200">{entry.reason}</p>
        <p className="mt-1 flex flex-wrap gap-x-3 text-xs text-muted tabular-nums">
          <span>
            {count(entry.retries)} {entry.retries === 1 ? 'retry' : 'retries'}
          </span>
          <time dateTime={entry.dead_lettered_at} title={dateTime(entry.dead_lettered_at)}>
            dead-lettered {timeAgo(entry.dead_lettered_at)}
          </time>
        </p>
      </div>
      <Button size="sm" onClick={onRequeue} aria-describedby={goalId}>
        <RotateCcw className="h-3.5 w-3.5" aria-hidden /> Re-queue
      </Button>
    </li>
  )
}
