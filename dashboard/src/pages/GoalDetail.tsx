import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { ArrowLeft, CircleCheck, CircleX, Pause, Pencil, Play, Trash2, Zap } from 'lucide-react'
import { lazy, Suspense, useState, type FormEvent, type ReactNode } from 'react'
import { Link, useNavigate, useParams } from 'react-router'

import { ApiError, errorMessage } from '../api/client'
import { goalQueries, goalsApi, MATURATION_STAGES, type Goal } from '../api/goals'
import { Button } from '../components/Button'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { FormError, TextArea } from '../components/Field'
import { costAgainstCap, GoalStatusBadge, nextRun, ProgressBar } from '../components/GoalBits'
import { GoalForm, PRIORITY_LABELS } from '../components/GoalForm'
import { Page, PageHeader, Panel } from '../components/Page'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { dateTime, milliseconds, timeAgo, usd } from '../format'
import { toast } from '../toast'

const Markdown = lazy(() => import('../components/Markdown'))

/** One goal: what it is, how far it got, what it cost, and the spec review when cortex asks for one. */
export function Component() {
  const { goalId = '' } = useParams()
  const goal = useQuery(goalQueries.detail(goalId))

  return (
    <Page wide>
      <Link to="/goals" className="mb-3 inline-flex items-center gap-1 text-sm text-muted hover:text-fg">
        <ArrowLeft className="h-4 w-4" aria-hidden />
        Goals
      </Link>
      {goal.isPending && <Loading label="Loading the goal…" />}
      {goal.isError &&
        (goal.error instanceof ApiError && goal.error.status === 404 ? (
          <EmptyState title="No such goal">It may have been deleted.</EmptyState>
        ) : (
          <ErrorNotice title="Could not load this goal" error={goal.error} onRetry={() => void goal.refetch()} />
        ))}
      {goal.data && <GoalView goal={goal.data} />}
    </Page>
  )
}

function GoalView({ goal }: { goal: Goal }) {
  const [editing, setEditing] = useState(false)
  const [deleting, setDeleting] = useState(false)

  return (
    <>
      <PageHeader
        title={goal.title}
        description={
          <span className="inline-flex flex-wrap items-center gap-2">
            <GoalStatusBadge status={goal.status} />
            {goal.schedule_description && <span>{goal.schedule_description}</span>}
          </span>
        }
        actions={<GoalActions goal={goal} onEdit={() => setEditing(true)} onDelete={() => setDeleting(true)} />}
      />
      <div className="space-y-6">
        <Summary goal={goal} />
        {goal.maturation_status && <MaturationTrack goal={goal} />}
        {goal.maturation_status === 'review' && <SpecReview goal={goal} />}
        <div className="grid gap-6 lg:grid-cols-2">
          <Iterations goalId={goal.id} />
          <Tasks goalId={goal.id} />
          <Reflections goalId={goal.id} />
          <Comments goalId={goal.id} />
        </div>
      </div>
      {editing && <GoalForm goal={goal} onClose={() => setEditing(false)} />}
      {deleting && <DeleteGoal goal={goal} onClose={() => setDeleting(false)} />}
    </>
  )
}

function useGoalMutation<T>(goalId: string, fn: (arg: T) => Promise<Goal | unknown>, success: string) {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: (result) => {
      if (result && typeof result === 'object' && 'id' in result) queryClient.setQueryData(goalQueries.detail(goalId).queryKey, result as Goal)
      void queryClient.invalidateQueries({ queryKey: goalQueries.all })
      toast.success(success)
    },
  })
}

function GoalActions({ goal, onEdit, onDelete }: { goal: Goal; onEdit: () => void; onDelete: () => void }) {
  const paused = goal.status === 'paused'
  const toggle = useGoalMutation(goal.id, () => goalsApi.update(goal.id, { status: paused ? 'active' : 'paused' }), paused ? 'Goal resumed.' : 'Goal paused.')
  const trigger = useGoalMutation(goal.id, () => goalsApi.trigger(goal.id), 'cortex will work on it on its next cycle.')
  const canToggle = goal.status === 'active' || goal.status === 'paused'
  return (
    <>
      <Button onClick={() => trigger.mutate(undefined)} busy={trigger.isPending} disabled={goal.status !== 'active'}
        title={goal.status !== 'active' ? 'Only an active goal runs' : undefined}>
        <Zap className="h-4 w-4" aria-hidden />
        Run now
      </Button>
      {canToggle && (
        <Button onClick={() => toggle.mutate(undefined)} busy={toggle.isPending}>
          {paused ? <Play className="h-4 w-4" aria-hidden /> : <Pause className="h-4 w-4" aria-hidden />}
          {paused ? 'Resume' : 'Pause'}
        </Button>
      )}
      <Button onClick={onEdit}>
        <Pencil className="h-4 w-4" aria-hidden />
        Edit
      </Button>
      <Button variant="danger" onClick={onDelete}>
        <Trash2 className="h-4 w-4" aria-hidden />
        Delete
      </Button>
    </>
  )
}

function Summary({ goal }: { goal: Goal }) {
  return (
    <Panel>
      <dl className="grid grid-cols-2 gap-4 text-sm sm:grid-cols-3 lg:grid-cols-6">
        <Fact label="Progress">
          <ProgressBar value={goal.progress} label="Progress" />
        </Fact>
        <Fact label="Priority">{PRIORITY_LABELS[goal.priority] ?? goal.priority}</Fact>
        <Fact label="Next run">{nextRun(goal)}</Fact>
        <Fact label="Cost">{costAgainstCap(goal)}</Fact>
        <Fact label="Iterations">
          {goal.iteration_count}
          {goal.max_iterations != null && ` of ${goal.max_iterations}`}
        </Fact>
        <Fact label={goal.schedule_cron ? 'Runs' : 'Checked'}>
          {goal.schedule_cron ? `${goal.completion_count}${goal.max_completions != null ? ` of ${goal.max_completions}` : ''}` : timeAgo(goal.last_checked_at)}
        </Fact>
      </dl>
      {goal.description && <p className="mt-4 text-sm whitespace-pre-wrap text-muted">{goal.description}</p>}
      <p className="mt-3 text-xs text-faint">
        Created {dateTime(goal.created_at)} by {goal.created_by}
        {goal.schedule_cron && (
          <>
            {' · '}cron <code className="font-mono">{goal.schedule_cron}</code>
          </>
        )}
      </p>
    </Panel>
  )
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="text-xs text-muted">{label}</dt>
      <dd className="mt-0.5 font-medium">{children}</dd>
    </div>
  )
}

function MaturationTrack({ goal }: { goal: Goal }) {
  const current = MATURATION_STAGES.indexOf(goal.maturation_status ?? 'triage')
  return (
    <ol aria-label="Maturation" className="flex flex-wrap gap-1 text-xs">
      {MATURATION_STAGES.map((stage, index) => (
        <li key={stage} aria-current={index === current ? 'step' : undefined}
          className={`rounded-full px-2.5 py-1 ${index === current ? 'bg-accent font-semibold text-white' : index < current ? 'bg-sunken text-fg' : 'text-faint'}`}>
          {stage}
        </li>
      ))}
    </ol>
  )
}

function SpecReview({ goal }: { goal: Goal }) {
  const [rejecting, setRejecting] = useState(false)
  const [feedback, setFeedback] = useState('')
  const [feedbackError, setFeedbackError] = useState<string | null>(null)
  const approve = useGoalMutation(goal.id, () => goalsApi.approveSpec(goal.id), 'Spec approved: cortex starts building.')
  const reject = useGoalMutation(goal.id, (text: string) => goalsApi.rejectSpec(goal.id, text), 'Spec sent back with your feedback.')

  function submitRejection(event: FormEvent) {
    event.preventDefault()
    if (!feedback.trim()) {
      setFeedbackError('Say what should change, so cortex can write a better spec.')
      return
    }
    setFeedbackError(null)
    reject.mutate(feedback.trim())
  }

  return (
    <Panel title="Spec to review" className="border-amber-400 dark:border-amber-700">
      <div data-testid="goal-spec" className="max-h-96 overflow-y-auto rounded-md border border-line bg-sunken px-3 py-2 text-sm">
        <Suspense fallback={<p className="whitespace-pre-wrap">{goal.spec}</p>}>
          <Markdown>{goal.spec ?? ''}</Markdown>
        </Suspense>
      </div>
      {goal.spec_feedback && <p className="mt-2 text-xs text-muted">Your last feedback: {goal.spec_feedback}</p>}
      {rejecting ? (
        <form onSubmit={submitRejection} className="mt-3 space-y-2" noValidate>
          <TextArea label="What should change" rows={3} value={feedback} error={feedbackError} maxLength={10_000} autoFocus
            onChange={(event) => setFeedback(event.target.value)} />
          <div className="flex gap-2">
            <Button type="submit" variant="danger" busy={reject.isPending}>
              <CircleX className="h-4 w-4" aria-hidden />
              Send back
            </Button>
            <Button onClick={() => setRejecting(false)}>Cancel</Button>
          </div>
        </form>
      ) : (
        <div className="mt-3 flex flex-wrap gap-2">
          <Button variant="primary" onClick={() => approve.mutate(undefined)} busy={approve.isPending}>
            <CircleCheck className="h-4 w-4" aria-hidden />
            Approve spec
          </Button>
          <Button onClick={() => setRejecting(true)}>
            <CircleX className="h-4 w-4" aria-hidden />
            Reject with feedback
          </Button>
        </div>
      )}
    </Panel>
  )
}

const OUTCOME_TONE: Record<string, string> = {
  pending: badgeTone.neutral,
  succeeded: badgeTone.good,
  failed: badgeTone.bad,
  cancelled: badgeTone.neutral,
  timed_out: badgeTone.warn,
}

function Iterations({ goalId }: { goalId: string }) {
  const iterations = useQuery(goalQueries.iterations(goalId))
  return (
    <Panel title="Iterations">
      {iterations.isPending && <Loading />}
      {iterations.isError && <ErrorNotice error={iterations.error} onRetry={() => void iterations.refetch()} />}
      {iterations.data?.length === 0 && <p className="text-sm text-muted">No attempts yet.</p>}
      {iterations.data && iterations.data.length > 0 && (
        <ol className="space-y-2">
          {iterations.data.map((it) => (
            <li key={it.id} className="rounded-md border border-line px-3 py-2 text-sm">
              <div className="flex flex-wrap items-center gap-2 text-xs text-muted">
                <span className="font-medium text-fg">#{it.iteration}</span>
                <Badge className={OUTCOME_TONE[it.outcome] ?? badgeTone.neutral}>{it.outcome}</Badge>
                <span>{usd(it.cost_usd)}</span>
                <span>{milliseconds(it.duration_ms)}</span>
                <time dateTime={it.started_at}>{timeAgo(it.started_at)}</time>
                {it.pipeline_task_id && (
                  <Link to={`/tasks?task=${it.pipeline_task_id}`} className="text-accent hover:underline">
                    task
                  </Link>
                )}
              </div>
              {it.plan && <p className="mt-1 line-clamp-3 whitespace-pre-wrap">{it.plan}</p>}
              {it.summary && <p className="mt-1 text-muted">{it.summary}</p>}
            </li>
          ))}
        </ol>
      )}
    </Panel>
  )
}

function Tasks({ goalId }: { goalId: string }) {
  const tasks = useQuery(goalQueries.tasks(goalId))
  return (
    <Panel title="Tasks">
      {tasks.isPending && <Loading />}
      {tasks.isError && <ErrorNotice error={tasks.error} onRetry={() => void tasks.refetch()} />}
      {tasks.data?.length === 0 && <p className="text-sm text-muted">No pipeline tasks yet.</p>}
      {tasks.data && tasks.data.length > 0 && (
        <ul className="divide-y divide-line text-sm">
          {tasks.data.map((task) => (
            <li key={task.id} className="flex flex-wrap items-center justify-between gap-2 py-2">
              <Link to={`/tasks?task=${task.id}`} className="min-w-0 flex-1 truncate text-accent hover:underline">
                {task.goal}
              </Link>
              <span className="text-xs text-muted">
                {task.status} · {usd(task.cost_usd)} · {timeAgo(task.created_at)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  )
}

function Reflections({ goalId }: { goalId: string }) {
  const reflections = useQuery(goalQueries.reflections(goalId))
  return (
    <Panel title="Reflections">
      {reflections.isPending && <Loading />}
      {reflections.isError && <ErrorNotice error={reflections.error} onRetry={() => void reflections.refetch()} />}
      {reflections.data?.length === 0 && <p className="text-sm text-muted">No lessons recorded yet.</p>}
      {reflections.data && reflections.data.length > 0 && (
        <ul className="space-y-2 text-sm">
          {reflections.data.map((r) => (
            <li key={r.id} className="rounded-md border border-line px-3 py-2">
              <div className="flex flex-wrap items-center gap-2 text-xs text-muted">
                <Badge className={OUTCOME_TONE[r.outcome] ?? badgeTone.neutral}>{r.outcome}</Badge>
                <code className="font-mono">{r.approach_fingerprint.slice(0, 12)}</code>
                <time dateTime={r.created_at}>{timeAgo(r.created_at)}</time>
              </div>
              {r.lesson && <p className="mt-1 whitespace-pre-wrap">{r.lesson}</p>}
            </li>
          ))}
        </ul>
      )}
    </Panel>
  )
}

function Comments({ goalId }: { goalId: string }) {
  const queryClient = useQueryClient()
  const comments = useQuery(goalQueries.comments(goalId))
  const [body, setBody] = useState('')
  const add = useMutation({
    mutationFn: (text: string) => goalsApi.comment(goalId, text),
    meta: { errorToast: false },
    onSuccess: () => {
      setBody('')
      void queryClient.invalidateQueries({ queryKey: goalQueries.comments(goalId).queryKey })
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    if (body.trim()) add.mutate(body.trim())
  }

  return (
    <Panel title="Comments">
      {comments.isPending && <Loading />}
      {comments.isError && <ErrorNotice error={comments.error} onRetry={() => void comments.refetch()} />}
      {comments.data?.length === 0 && <p className="text-sm text-muted">No comments yet; cortex reads them on its next cycle.</p>}
      {comments.data && comments.data.length > 0 && (
        <ul className="mb-3 space-y-2 text-sm">
          {comments.data.map((c) => (
            <li key={c.id} className="rounded-md border border-line px-3 py-2">
              <div className="text-xs text-muted">
                <span className="font-medium text-fg">{c.author}</span> · <time dateTime={c.created_at}>{timeAgo(c.created_at)}</time>
              </div>
              <p className="mt-0.5 whitespace-pre-wrap">{c.body}</p>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={submit} className="space-y-2">
        <TextArea label="Add a comment" rows={2} value={body} maxLength={10_000} onChange={(event) => setBody(event.target.value)} />
        <FormError message={add.error ? errorMessage(add.error) : null} />
        <Button type="submit" size="sm" variant="primary" busy={add.isPending} disabled={!body.trim()}>
          Comment
        </Button>
      </form>
    </Panel>
  )
}

function DeleteGoal({ goal, onClose }: { goal: Goal; onClose: () => void }) {
  const queryClient = useQueryClient()
  const navigate = useNavigate()
  const remove = useMutation({
    mutationFn: () => goalsApi.remove(goal.id),
    meta: { errorToast: false },
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: goalQueries.detail(goal.id).queryKey })
      void queryClient.invalidateQueries({ queryKey: goalQueries.all })
      toast.success(`Deleted “${goal.title}”.`)
      void navigate('/goals')
    },
  })
  return (
    <ConfirmDialog title="Delete this goal?" confirmLabel="Delete goal" onConfirm={() => remove.mutate()} onCancel={onClose}
      busy={remove.isPending} error={remove.error ? errorMessage(remove.error) : null}>
      “{goal.title}” and its iterations, reflections and comments are deleted; its pipeline tasks stay in the task list.
    </ConfirmDialog>
  )
}
