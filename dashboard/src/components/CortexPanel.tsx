import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Pause, Play, Send } from 'lucide-react'
import { useState, type FormEvent, type ReactNode } from 'react'

import { errorMessage } from '../api/client'
import { cortexApi, cortexQueries, cortexUnreachable, TIER_LABELS, type BudgetStatus, type BudgetTier, type DriveUrgency } from '../api/cortex'
import { journalApi, journalQueries, type JournalEntry } from '../api/journal'
import { timeAgo, usd } from '../format'
import { toast } from '../toast'
import { Button } from './Button'
import { FormError } from './Field'
import { Panel } from './Page'
import { Badge, badgeTone } from './StateBadge'
import { ErrorNotice, Loading } from './States'

const TIER_TONE: Record<BudgetTier, string> = {
  best: badgeTone.good,
  mid: badgeTone.accent,
  cheap: badgeTone.warn,
  none: badgeTone.bad,
}

/** cortex at a glance: running or paused, what drives it, what it may still spend today, and the journal. */
export function CortexPanel() {
  const status = useQuery(cortexQueries.status())
  const down = status.isError && cortexUnreachable(status.error)

  return (
    <Panel title="cortex" actions={status.data && <PauseResume paused={status.data.status === 'paused'} />}>
      <div className="grid gap-4 lg:grid-cols-2">
        <div className="space-y-4">
          {status.isPending && <Loading label="Asking cortex…" />}
          {down && (
            <div role="status" data-testid="cortex-down" className="rounded-md border border-dashed border-line-strong px-3 py-3 text-sm">
              <p className="font-medium">cortex is not running</p>
              <p className="mt-0.5 text-muted">
                Goals are kept, but nothing works on them until cortex is back. <code className="font-mono">make run</code> starts it;
                the Status page shows its health.
              </p>
            </div>
          )}
          {status.isError && !down && <ErrorNotice title="Could not ask cortex" error={status.error} onRetry={() => void status.refetch()} />}
          {status.data && (
            <>
              <dl className="grid grid-cols-2 gap-3 text-sm sm:grid-cols-4">
                <Fact label="State">
                  <Badge className={status.data.status === 'running' ? badgeTone.good : badgeTone.warn}>{status.data.status}</Badge>
                </Fact>
                <Fact label="Current drive">{status.data.current_drive ?? '—'}</Fact>
                <Fact label="Cycles">{status.data.cycle_count.toLocaleString()}</Fact>
                <Fact label="Last cycle">{timeAgo(status.data.last_cycle_at)}</Fact>
              </dl>
              {status.data.last_action && <p className="text-sm text-muted">Last: {status.data.last_action}</p>}
              <Drives />
              <Budget />
            </>
          )}
        </div>
        <Journal />
      </div>
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

function PauseResume({ paused }: { paused: boolean }) {
  const queryClient = useQueryClient()
  const toggle = useMutation({
    mutationFn: () => (paused ? cortexApi.resume() : cortexApi.pause()),
    onSuccess: (next) => {
      queryClient.setQueryData(cortexQueries.status().queryKey, next)
      void queryClient.invalidateQueries({ queryKey: cortexQueries.all })
      toast.success(paused ? 'cortex resumed.' : 'cortex paused: no new work starts until you resume it.')
    },
  })
  return (
    <Button size="sm" onClick={() => toggle.mutate()} busy={toggle.isPending}>
      {paused ? <Play className="h-3.5 w-3.5" aria-hidden /> : <Pause className="h-3.5 w-3.5" aria-hidden />}
      {paused ? 'Resume cortex' : 'Pause cortex'}
    </Button>
  )
}

function Drives() {
  const drives = useQuery(cortexQueries.drives())
  if (!drives.data) return null
  const sorted = [...drives.data].sort((a, b) => b.score - a.score)
  return (
    <div>
      <h3 className="mb-2 text-sm font-semibold">Drives</h3>
      <ul className="space-y-1.5" aria-label="Drive urgencies">
        {sorted.map((drive) => (
          <DriveBar key={drive.drive} drive={drive} />
        ))}
      </ul>
    </div>
  )
}

function DriveBar({ drive }: { drive: DriveUrgency }) {
  const percent = Math.round(drive.urgency * 100)
  return (
    <li className="text-sm" title={drive.reason}>
      <div className="flex justify-between gap-2 text-xs">
        <span className="font-medium">{drive.drive}</span>
        <span className="text-muted">{percent} %</span>
      </div>
      <div role="meter" aria-label={`${drive.drive} urgency`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}
        className="mt-0.5 h-1.5 overflow-hidden rounded-full bg-sunken">
        <div className="h-full rounded-full bg-accent" style={{ width: `${percent}%` }} />
      </div>
      <p className="truncate text-xs text-muted">{drive.reason}</p>
    </li>
  )
}

function Budget() {
  const budget = useQuery(cortexQueries.budget())
  if (!budget.data) return null
  return <BudgetGauge budget={budget.data} />
}

export function BudgetGauge({ budget }: { budget: BudgetStatus }) {
  const percent = Math.min(100, Math.max(0, Math.round(budget.percent_used)))
  return (
    <div>
      <div className="mb-1 flex flex-wrap items-center justify-between gap-2">
        <h3 className="text-sm font-semibold">Today’s budget</h3>
        <Badge className={TIER_TONE[budget.tier]}>{TIER_LABELS[budget.tier]}</Badge>
      </div>
      <div role="meter" aria-label="Budget used" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}
        className="h-2 overflow-hidden rounded-full bg-sunken">
        <div className={`h-full rounded-full ${percent >= 80 ? 'bg-rose-600' : percent >= 50 ? 'bg-amber-500' : 'bg-accent'}`} style={{ width: `${percent}%` }} />
      </div>
      <p className="mt-1 text-xs text-muted">
        {usd(budget.daily_spend_usd)} of {usd(budget.daily_budget_usd)} spent ({percent} %), {usd(budget.remaining_usd)} left
      </p>
    </div>
  )
}

function Journal() {
  const queryClient = useQueryClient()
  const journal = useQuery(journalQueries.recent())
  const [message, setMessage] = useState('')
  const write = useMutation({
    mutationFn: journalApi.write,
    meta: { errorToast: false },
    onSuccess: () => {
      setMessage('')
      void queryClient.invalidateQueries({ queryKey: journalQueries.all })
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    if (message.trim()) write.mutate(message.trim())
  }

  return (
    <div className="flex min-w-0 flex-col">
      <h3 className="mb-2 text-sm font-semibold">Journal</h3>
      <form onSubmit={submit} className="mb-3 space-y-2">
        <label htmlFor="journal-message" className="sr-only">
          Write to cortex
        </label>
        <textarea id="journal-message" rows={2} value={message} maxLength={20_000} placeholder="Write to cortex; it reads this on its next cycle."
          onChange={(event) => setMessage(event.target.value)}
          className="block w-full rounded-md border border-line-strong bg-panel px-2.5 py-1.5 text-sm placeholder:text-faint focus:border-teal-500 focus:outline-none" />
        <FormError message={write.error ? errorMessage(write.error) : null} />
        <Button type="submit" size="sm" variant="primary" busy={write.isPending} disabled={!message.trim()}>
          <Send className="h-3.5 w-3.5" aria-hidden />
          Send to cortex
        </Button>
      </form>
      {journal.isPending && <Loading label="Loading the journal…" />}
      {journal.isError && <ErrorNotice title="Could not load the journal" error={journal.error} onRetry={() => void journal.refetch()} />}
      {journal.data && journal.data.items.length === 0 && <p className="text-sm text-muted">Nothing in the journal yet.</p>}
      {journal.data && journal.data.items.length > 0 && (
        <ol aria-label="Journal entries" className="max-h-96 space-y-2 overflow-y-auto">
          {journal.data.items.map((entry) => (
            <JournalItem key={entry.id} entry={entry} />
          ))}
        </ol>
      )}
    </div>
  )
}

function JournalItem({ entry }: { entry: JournalEntry }) {
  const mine = entry.role === 'user'
  return (
    <li className={`rounded-md border px-3 py-2 text-sm ${mine ? 'border-teal-300 bg-teal-50/50 dark:border-teal-800 dark:bg-teal-950/30' : 'border-line'}`}>
      <div className="mb-0.5 flex flex-wrap items-center gap-2 text-xs text-muted">
        <span className="font-medium text-fg">{mine ? 'You' : 'cortex'}</span>
        {entry.kind !== 'message' && entry.kind !== 'narration' && (
          <Badge className={entry.kind === 'escalation' ? badgeTone.bad : badgeTone.neutral}>{entry.kind}</Badge>
        )}
        <time dateTime={entry.created_at}>{timeAgo(entry.created_at)}</time>
      </div>
      <p className="break-words whitespace-pre-wrap">{entry.content}</p>
    </li>
  )
}
