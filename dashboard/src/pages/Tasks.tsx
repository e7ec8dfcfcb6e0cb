import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Ban, CircleCheck, Send } from 'lucide-react'
import { lazy, Suspense, useEffect, useState, type FormEvent, type ReactNode } from 'react'
import { useSearchParams } from 'react-router'

import { errorMessage } from '../api/client'
import {
  followPipelineEvents,
  pipelineApi,
  pipelineQueries,
  TERMINAL_STATES,
  type PipelineProgressEvent,
  type PipelineTaskInfo,
  type PipelineTaskPage,
  type PipelineTaskState,
} from '../api/pipeline'
import { podsQueries } from '../api/pods'
import { Button } from '../components/Button'
import { DeadLetterPanel } from '../components/DeadLetterPanel'
import { FormError, SelectField, TextArea, TextField } from '../components/Field'
import { Modal } from '../components/Modal'
import { Page, PageHeader, Panel } from '../components/Page'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { count, dateTime, timeAgo, usd } from '../format'
import { toast } from '../toast'

const Markdown = lazy(() => import('../components/Markdown'))

const MAX_GOAL = 100_000

// The board's columns: the pipeline's states grouped by what the user does about them.
const COLUMNS: { title: string; states: PipelineTaskState[] }[] = [
  { title: 'Queued', states: ['submitted', 'queued'] },
  { title: 'Running', states: ['context_running', 'task_running', 'guardrail_running', 'review_running', 'completing'] },
  { title: 'Needs you', states: ['clarification_needed', 'pending_human_review'] },
  { title: 'Done', states: ['complete', 'failed', 'cancelled'] },
]

function stateTone(state: PipelineTaskState): string {
  if (state === 'complete') return badgeTone.good
  if (state === 'failed') return badgeTone.bad
  if (state === 'cancelled') return badgeTone.neutral
  if (state === 'clarification_needed' || state === 'pending_human_review') return badgeTone.warn
  return badgeTone.accent
}

const label = (state: PipelineTaskState) => state.replaceAll('_', ' ')

/** Tasks: submit a goal, watch the pipeline's live board, open a task for its timeline and actions, re-queue dead letters. */
export function Component() {
  const [params, setParams] = useSearchParams()
  const openId = params.get('task')
  const live = usePipelineEvents()
  const tasks = useQuery(pipelineQueries.tasks())

  return (
    <Page wide>
      <PageHeader
        title="Tasks"
        description="Goals run through a pod's pipeline of agents: context, task, guardrail, review."
        actions={<LiveIndicator live={live} />}
      />
      <div className="space-y-6">
        <SubmitTask onSubmitted={(task) => setParams({ task: task.id })} />
        <QueueStatsBar />
        {tasks.isPending && <Loading label="Loading tasks…" />}
        {tasks.isError && <ErrorNotice title="Could not load tasks" error={tasks.error} onRetry={() => void tasks.refetch()} />}
        {tasks.isSuccess && tasks.data.items.length === 0 && <EmptyState title="No tasks yet">Submit a goal above and follow it here.</EmptyState>}
        {tasks.isSuccess && tasks.data.items.length > 0 && <Board tasks={tasks.data.items} onOpen={(id) => setParams({ task: id })} />}
        <DeadLetterPanel onOpen={(id) => setParams({ task: id })} />
      </div>
      {openId && <TaskDetail id={openId} onClose={() => setParams({})} />}
    </Page>
  )
}

/**
 * Subscribes to the pipeline's progress events while the page is open: each one updates the task in the
 * cache at once, and the affected queries refetch for the details an event does not carry.
 */
function usePipelineEvents(): boolean {
  const queryClient = useQueryClient()
  const [live, setLive] = useState(false)

  useEffect(() => {
    const abort = new AbortController()
    let delay = 1_000
    // A running pipeline sends bursts of events; refetch what they touched at most twice a second.
    const touched = new Set<string>()
    let flush: ReturnType<typeof setTimeout> | null = null
    const refetchTouched = () => {
      flush = null
      for (const id of touched) void queryClient.invalidateQueries({ queryKey: pipelineQueries.task(id).queryKey })
      touched.clear()
      void queryClient.invalidateQueries({ queryKey: pipelineQueries.tasks().queryKey })
      void queryClient.invalidateQueries({ queryKey: pipelineQueries.queueStats().queryKey })
      // The reaper dead-letters a task with a `failed` event like any other; the list follows the events.
      void queryClient.invalidateQueries({ queryKey: pipelineQueries.deadLetter().queryKey })
    }
    const apply = (event: PipelineProgressEvent) => {
      setLive(true)
      delay = 1_000
      queryClient.setQueryData<PipelineTaskPage>(pipelineQueries.tasks().queryKey, (page) =>
        page && {
          ...page,
          items: page.items.map((t) => (t.id === event.task_id ? { ...t, status: event.status, current_stage: event.stage ?? t.current_stage } : t)),
        },
      )
      touched.add(event.task_id)
      flush ??= setTimeout(refetchTouched, 500)
    }
    async function run() {
      while (!abort.signal.aborted) {
        try {
          setLive(true)
          await followPipelineEvents(abort.signal, apply)
        } catch {
          if (abort.signal.aborted) return
          setLive(false)
          // Reconnect with backoff; meanwhile the board still refreshes on its own.
          await new Promise((resolve) => setTimeout(resolve, delay))
          delay = Math.min(delay * 2, 30_000)
          void queryClient.invalidateQueries({ queryKey: pipelineQueries.all })
        }
      }
    }
    void run()
    return () => {
      abort.abort()
      if (flush) clearTimeout(flush)
    }
  }, [queryClient])

  return live
}

function LiveIndicator({ live }: { live: boolean }) {
  return (
    <span role="status" className="flex items-center gap-2 text-sm text-muted">
      <span aria-hidden className={`h-2 w-2 rounded-full ${live ? 'bg-emerald-500' : 'bg-stone-400'}`} />
      {live ? 'Live' : 'Reconnecting…'}
    </span>
  )
}

function SubmitTask({ onSubmitted }: { onSubmitted: (task: PipelineTaskInfo) => void }) {
  const queryClient = useQueryClient()
  const pods = useQuery(podsQueries.list())
  const [goal, setGoal] = useState('')
  const [podId, setPodId] = useState('')
  const [tags, setTags] = useState('')
  const [error, setError] = useState<string | null>(null)
  const submit = useMutation({
    mutationFn: pipelineApi.submit,
    meta: { errorToast: false },
    onSuccess: (task) => {
      setGoal('')
      setTags('')
      toast.success(`Task queued${task.pod_name ? ` on ${task.pod_name}` : ''}`)
      void queryClient.invalidateQueries({ queryKey: pipelineQueries.all })
      onSubmitted(task)
    },
  })

  function onSubmit(event: FormEvent) {
    event.preventDefault()
    const text = goal.trim()
    if (!text) return setError('Describe what the pipeline should do.')
    if (text.length > MAX_GOAL) return setError(`At most ${count(MAX_GOAL)} characters.`)
    setError(null)
    const tagList = tags.split(',').map((t) => t.trim()).filter(Boolean)
    submit.mutate({ goal: text, pod_id: podId || null, tags: tagList, metadata: {} })
  }

  return (
    <Panel title="Submit a goal">
      <form onSubmit={onSubmit} className="space-y-4" noValidate>
        <TextArea label="Goal" rows={3} value={goal} error={error} placeholder="Fix the failing login test in auth.py" onChange={(e) => setGoal(e.target.value)} />
        <div className="grid gap-4 sm:grid-cols-2">
          <SelectField
            label="Pod"
            value={podId}
            hint={pods.isError ? `Pods could not be loaded: ${errorMessage(pods.error)}` : 'Without a pod the goal is routed by keywords.'}
            onChange={(e) => setPodId(e.target.value)}
          >
            <option value="">Route automatically</option>
            {pods.data?.filter((pod) => pod.enabled).map((pod) => (
              <option key={pod.id} value={pod.id}>
                {pod.name}
              </option>
            ))}
          </SelectField>
          <TextField label="Tags (optional)" value={tags} placeholder="backend, urgent" hint="Comma-separated." onChange={(e) => setTags(e.target.value)} />
        </div>
        <FormError message={submit.error ? errorMessage(submit.error) : null} />
        <Button type="submit" variant="primary" busy={submit.isPending}>
          <Send className="h-4 w-4" aria-hidden /> Submit
        </Button>
      </form>
    </Panel>
  )
}

function QueueStatsBar() {
  const stats = useQuery(pipelineQueries.queueStats())
  if (!stats.data) return null
  const s = stats.data
  const items: [string, string][] = [
    ['queued', count(s.queued)],
    ['running', count(s.running)],
    ['workers', count(s.workers)],
    ['dead letter', count(s.dead_letter)],
  ]
  return (
    <dl className="flex flex-wrap gap-x-6 gap-y-1 text-sm" aria-label="Queue">
      {items.map(([name, value]) => (
        <div key={name} className="flex gap-1.5">
          <dt className="text-muted">{name}</dt>
          <dd className="font-semibold tabular-nums">{value}</dd>
        </div>
      ))}
    </dl>
  )
}

/** Re-renders every `ms` while `active`, for elapsed-time counters. */
function useNow(active: boolean, ms = 1_000): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (!active) return
    const timer = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(timer)
  }, [active, ms])
  return now
}

export function elapsed(task: Pick<PipelineTaskInfo, 'created_at' | 'started_at' | 'completed_at'>, now: number): string {
  const start = new Date(task.started_at ?? task.created_at).getTime()
  const end = task.completed_at ? new Date(task.completed_at).getTime() : now
  const seconds = Math.max(0, Math.round((end - start) / 1000))
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`
}

function Board({ tasks, onOpen }: { tasks: PipelineTaskInfo[]; onOpen: (id: string) => void }) {
  const now = useNow(tasks.some((t) => !TERMINAL_STATES.has(t.status)))
  return (
    <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-4">
      {COLUMNS.map((column) => {
        const cards = tasks.filter((t) => column.states.includes(t.status))
        return (
          <section key={column.title} aria-label={column.title} className="rounded-lg bg-sunken p-2">
            <h2 className="mb-2 flex items-center justify-between px-1 text-sm font-semibold">
              {column.title} <span className="font-normal text-muted">{cards.length}</span>
            </h2>
            {cards.length === 0 ? (
              <p className="px-1 pb-2 text-xs text-muted">Nothing here.</p>
            ) : (
              <ul className="space-y-2">
                {cards.map((task) => (
                  <li key={task.id}>
                    <button
                      type="button"
                      onClick={() => onOpen(task.id)}
                      className="w-full rounded-md border border-line bg-panel p-2.5 text-left hover:border-teal-500"
                    >
                      <span className="line-clamp-2 text-sm font-medium break-words">{task.goal}</span>
                      <span className="mt-1.5 flex flex-wrap items-center gap-1.5 text-xs text-muted">
                        <Badge className={stateTone(task.status)}>{label(task.status)}</Badge>
                        {task.current_stage && !TERMINAL_STATES.has(task.status) && <span>· {task.current_stage}</span>}
                      </span>
                      <span className="mt-1 flex flex-wrap gap-x-3 text-xs text-muted tabular-nums">
                        <span title="elapsed">{elapsed(task, now)}</span>
                        <span title="cost">{usd(task.cost_usd)}</span>
                        {task.pod_name && <span>{task.pod_name}</span>}
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </section>
        )
      })}
    </div>
  )
}

function TaskDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const task = useQuery(pipelineQueries.task(id))
  return (
    <Modal title="Task" onClose={onClose} size="lg">
      {task.isPending && <Loading label="Loading the task…" />}
      {task.isError && <ErrorNotice title="Could not load the task" error={task.error} onRetry={() => void task.refetch()} />}
      {task.data && <TaskBody task={task.data} />}
    </Modal>
  )
}

function TaskBody({ task }: { task: PipelineTaskInfo }) {
  const now = useNow(!TERMINAL_STATES.has(task.status))
  return (
    <div className="space-y-4 text-sm">
      <p className="rounded-md bg-sunken p-3 break-words whitespace-pre-wrap">{task.goal}</p>
      <div className="flex flex-wrap items-center gap-2">
        <Badge className={stateTone(task.status)}>{label(task.status)}</Badge>
        {task.current_stage && <span className="text-muted">stage {task.current_stage}</span>}
        <span className="text-muted">· {elapsed(task, now)}</span>
        <span className="text-muted">· {usd(task.cost_usd)}</span>
        {task.pod_name && <span className="text-muted">· pod {task.pod_name}</span>}
        {(task.tags ?? []).map((tag) => (
          <Badge key={tag} className={badgeTone.neutral}>
            {tag}
          </Badge>
        ))}
      </div>
      <TaskActions task={task} />
      {task.error && (
        <p role="status" className="rounded-md bg-rose-50 px-3 py-2 text-rose-900 dark:bg-rose-950 dark:text-rose-100">
          {task.error}
        </p>
      )}
      {task.output && (
        <section>
          <h3 className="mb-1 font-medium">Output</h3>
          <div className="rounded-md border border-line p-3">
            <Suspense fallback={<p className="whitespace-pre-wrap">{task.output}</p>}>
              <Markdown>{task.output}</Markdown>
            </Suspense>
          </div>
        </section>
      )}
      <Timeline id={task.id} />
      <Findings id={task.id} />
      <Reviews id={task.id} />
      <Artifacts id={task.id} />
    </div>
  )
}

function TaskActions({ task }: { task: PipelineTaskInfo }) {
  const queryClient = useQueryClient()
  const refresh = () => queryClient.invalidateQueries({ queryKey: pipelineQueries.all })
  const cancel = useMutation({ mutationFn: () => pipelineApi.cancel(task.id), onSuccess: () => void refresh() })
  return (
    <div className="space-y-3">
      {task.status === 'clarification_needed' && <ClarifyForm task={task} onDone={() => void refresh()} />}
      {task.status === 'pending_human_review' && <ReviewForm task={task} onDone={() => void refresh()} />}
      {!TERMINAL_STATES.has(task.status) && (
        <Button variant="danger" size="sm" onClick={() => cancel.mutate()} busy={cancel.isPending}>
          <Ban className="h-3.5 w-3.5" aria-hidden /> Cancel task
        </Button>
      )}
    </div>
  )
}

function ClarifyForm({ task, onDone }: { task: PipelineTaskInfo; onDone: () => void }) {
  const questions = task.clarification_questions ?? []
  const [answers, setAnswers] = useState<string[]>(() => questions.map(() => ''))
  const [error, setError] = useState<string | null>(null)
  const clarify = useMutation({
    mutationFn: (values: string[]) => pipelineApi.clarify(task.id, values),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Answers sent; the task continues')
      onDone()
    },
  })
  function submit(event: FormEvent) {
    event.preventDefault()
    if (answers.some((a) => !a.trim())) return setError('Answer every question.')
    setError(null)
    clarify.mutate(answers.map((a) => a.trim()))
  }
  return (
    <form onSubmit={submit} className="space-y-3 rounded-md border border-amber-300 p-3 dark:border-amber-700" noValidate>
      <h3 className="font-medium">The pipeline needs answers</h3>
      {questions.map((question, i) => (
        <TextArea
          key={question}
          label={question}
          rows={2}
          value={answers[i] ?? ''}
          onChange={(e) => setAnswers(answers.map((a, j) => (j === i ? e.target.value : a)))}
        />
      ))}
      <FormError message={error ?? (clarify.error ? errorMessage(clarify.error) : null)} />
      <Button type="submit" variant="primary" size="sm" busy={clarify.isPending}>
        Send answers
      </Button>
    </form>
  )
}

function ReviewForm({ task, onDone }: { task: PipelineTaskInfo; onDone: () => void }) {
  const [comment, setComment] = useState('')
  const review = useMutation({
    mutationFn: (decision: 'approve' | 'reject') => pipelineApi.review(task.id, { decision, comment }),
    meta: { errorToast: false },
    onSuccess: (_task, decision) => {
      toast.success(decision === 'approve' ? 'Approved' : 'Rejected')
      onDone()
    },
  })
  return (
    <div className="space-y-3 rounded-md border border-amber-300 p-3 dark:border-amber-700">
      <h3 className="font-medium">Waiting for your review</h3>
      <TextArea label="Comment (optional)" rows={2} value={comment} maxLength={10_000} onChange={(e) => setComment(e.target.value)} />
      <FormError message={review.error ? errorMessage(review.error) : null} />
      <div className="flex gap-2">
        <Button variant="primary" size="sm" onClick={() => review.mutate('approve')} busy={review.isPending && review.variables === 'approve'}>
          <CircleCheck className="h-3.5 w-3.5" aria-hidden /> Approve
        </Button>
        <Button variant="danger" size="sm" onClick={() => review.mutate('reject')} busy={review.isPending && review.variables === 'reject'}>
          Reject
        </Button>
      </div>
    </div>
  )
}

function Section<T>({ title, query, empty, render }: { title: string; query: { data?: T[]; isPending: boolean; error: unknown }; empty: string; render: (items: T[]) => ReactNode }) {
  return (
    <section>
      <h3 className="mb-1 font-medium">{title}</h3>
      {query.isPending ? <Loading /> : query.error ? <ErrorNotice title={`Could not load ${title.toLowerCase()}`} error={query.error} /> : query.data && query.data.length > 0 ? render(query.data) : <p className="text-muted">{empty}</p>}
    </section>
  )
}

function Timeline({ id }: { id: string }) {
  const query = useQuery(pipelineQueries.timeline(id))
  return (
    <Section
      title="Timeline"
      query={query}
      empty="Nothing has happened yet."
      render={(entries) => (
        <ol className="space-y-1 border-l border-line pl-3">
          {entries.map((entry, i) => (
            <li key={`${entry.at}-${i}`} className="text-xs">
              <span className="text-muted tabular-nums" title={dateTime(entry.at)}>{new Date(entry.at).toLocaleTimeString()}</span>{' '}
              {entry.kind === 'transition' ? (
                <span>
                  {entry.from_status ? label(entry.from_status) : 'new'} → <span className="font-medium">{entry.to_status ? label(entry.to_status) : '?'}</span>
                </span>
              ) : (
                <span>
                  {entry.kind.replaceAll('_', ' ')}
                  {entry.stage && <span className="font-medium"> {entry.stage}</span>}
                </span>
              )}
              {entry.detail && <span className="text-muted"> — {entry.detail}</span>}
            </li>
          ))}
        </ol>
      )}
    />
  )
}

function Findings({ id }: { id: string }) {
  const query = useQuery(pipelineQueries.findings(id))
  const tone = { low: badgeTone.neutral, medium: badgeTone.warn, high: badgeTone.bad, critical: badgeTone.bad }
  return (
    <Section
      title="Guardrail findings"
      query={query}
      empty="No findings."
      render={(findings) => (
        <ul className="space-y-2">
          {findings.map((finding, i) => (
            <li key={i} className="rounded-md border border-line p-2">
              <p className="flex items-center gap-2">
                <Badge className={tone[finding.severity]}>{finding.severity}</Badge>
                <span className="font-medium">{finding.type}</span>
              </p>
              <p className="mt-1">{finding.description}</p>
              {finding.evidence && <pre className="mt-1 overflow-x-auto rounded bg-sunken p-2 text-xs">{finding.evidence}</pre>}
            </li>
          ))}
        </ul>
      )}
    />
  )
}

function Reviews({ id }: { id: string }) {
  const query = useQuery(pipelineQueries.reviews(id))
  const tone = { pass: badgeTone.good, needs_refactor: badgeTone.warn, reject: badgeTone.bad }
  return (
    <Section
      title="Review verdicts"
      query={query}
      empty="No reviews."
      render={(reviews) => (
        <ul className="space-y-2">
          {reviews.map((review) => (
            <li key={`${review.stage}-${review.iteration}`} className="rounded-md border border-line p-2">
              <p className="flex items-center gap-2">
                <Badge className={tone[review.verdict]}>{review.verdict.replace('_', ' ')}</Badge>
                <span className="text-muted">iteration {review.iteration} · {timeAgo(review.created_at)}</span>
              </p>
              {review.summary && <p className="mt-1">{review.summary}</p>}
            </li>
          ))}
        </ul>
      )}
    />
  )
}

function Artifacts({ id }: { id: string }) {
  const query = useQuery(pipelineQueries.artifacts(id))
  return (
    <Section
      title="Artifacts"
      query={query}
      empty="No artifacts."
      render={(artifacts) => (
        <ul className="space-y-2">
          {artifacts.map((artifact, i) => (
            <li key={`${artifact.name}-${i}`}>
              <details className="rounded-md border border-line p-2">
                <summary className="cursor-pointer">
                  <span className="font-medium">{artifact.name}</span> <span className="text-muted">· {artifact.artifact_type} · {artifact.stage}</span>
                </summary>
                <pre className="mt-2 max-h-96 overflow-auto rounded bg-sunken p-2 text-xs whitespace-pre-wrap">{artifact.content}</pre>
              </details>
            </li>
          ))}
        </ul>
      )}
    />
  )
}
