import { useMutation, useQuery, useQueryClient, type UseQueryResult } from '@tanstack/react-query'
import { useEffect, useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import { goalQueries, goalsApi, type Goal, type GoalCreate, type GoalUpdate, type SchedulePreview } from '../api/goals'
import { dateTime } from '../format'
import { toast } from '../toast'
import { Button } from './Button'
import { FormError, SelectField, TextArea, TextField } from './Field'
import { Modal } from './Modal'

// The limits of nova_contracts.goals.GoalCreate, checked here so a typo is caught before sending.
const MAX_TITLE = 200
const MAX_COST = 100_000
const MAX_ITERATIONS = 10_000
const MIN_INTERVAL_MINUTES = 1
const MAX_INTERVAL_MINUTES = 30 * 24 * 60

export const PRIORITY_LABELS: Record<number, string> = {
  1: '1 · most important',
  2: '2 · high',
  3: '3 · normal',
  4: '4 · low',
  5: '5 · whenever',
}

interface Draft {
  title: string
  description: string
  priority: string
  maxCost: string
  maxIterations: string
  intervalMinutes: string
  cron: string
  maxCompletions: string
  complex: boolean
}

type Errors = Partial<Record<keyof Draft, string>>

function draftOf(goal: Goal | null): Draft {
  return {
    title: goal?.title ?? '',
    description: goal?.description ?? '',
    priority: String(goal?.priority ?? 3),
    maxCost: goal?.max_cost_usd != null ? String(goal.max_cost_usd) : '',
    maxIterations: goal ? (goal.max_iterations != null ? String(goal.max_iterations) : '') : '50',
    intervalMinutes: String(Math.round((goal?.check_interval_seconds ?? 3600) / 60)),
    cron: goal?.schedule_cron ?? '',
    maxCompletions: goal?.max_completions != null ? String(goal.max_completions) : '',
    complex: goal?.maturation_status != null,
  }
}

/** A value typed by the user a moment ago, once they have stopped typing for `ms`. */
export function useSettled<T>(value: T, ms = 300): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(timer)
  }, [value, ms])
  return settled
}

/** An optional whole or decimal number in a range: undefined when empty, null when invalid. */
function optionalNumber(text: string, { min, max, integer }: { min: number; max: number; integer: boolean }): number | undefined | null {
  if (!text.trim()) return undefined
  const value = Number(text)
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) return null
  return value
}

/** Create a goal, or edit one (`goal` given). The cron field says in words what it means while it is typed. */
export function GoalForm({ goal, onClose, onSaved }: { goal: Goal | null; onClose: () => void; onSaved?: (goal: Goal) => void }) {
  const queryClient = useQueryClient()
  const [draft, setDraft] = useState<Draft>(() => draftOf(goal))
  const [errors, setErrors] = useState<Errors>({})
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((current) => ({ ...current, [key]: value }))

  const settledCron = useSettled(draft.cron.trim())
  const preview = useQuery({ ...goalQueries.schedulePreview(settledCron), enabled: settledCron.length > 0 })

  const save = useMutation({
    mutationFn: (body: GoalCreate | GoalUpdate) => (goal ? goalsApi.update(goal.id, body as GoalUpdate) : goalsApi.create(body as GoalCreate)),
    meta: { errorToast: false },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: goalQueries.all })
      toast.success(goal ? `Saved “${saved.title}”.` : `Created “${saved.title}”.`)
      onSaved?.(saved)
      onClose()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: Errors = {}
    const title = draft.title.trim()
    if (!title) next.title = 'Say what the goal is.'
    else if (title.length > MAX_TITLE) next.title = `At most ${MAX_TITLE} characters.`
    const maxCost = optionalNumber(draft.maxCost, { min: 0.0001, max: MAX_COST, integer: false })
    if (maxCost === null) next.maxCost = `An amount above $0 and at most $${MAX_COST.toLocaleString()}, or empty for no cap.`
    const maxIterations = optionalNumber(draft.maxIterations, { min: 1, max: MAX_ITERATIONS, integer: true })
    if (maxIterations === null) next.maxIterations = `A whole number from 1 to ${MAX_ITERATIONS.toLocaleString()}, or empty for no cap.`
    const interval = optionalNumber(draft.intervalMinutes, { min: MIN_INTERVAL_MINUTES, max: MAX_INTERVAL_MINUTES, integer: true })
    if (interval == null) next.intervalMinutes = `A whole number of minutes from 1 to ${MAX_INTERVAL_MINUTES.toLocaleString()} (30 days).`
    const maxCompletions = optionalNumber(draft.maxCompletions, { min: 1, max: 1_000_000, integer: true })
    if (maxCompletions === null) next.maxCompletions = 'A whole number of runs, or empty to run until stopped.'
    if (draft.cron.trim() && preview.isError) next.cron = errorMessage(preview.error)
    setErrors(next)
    if (Object.keys(next).length > 0) return

    const cron = draft.cron.trim()
    const common = {
      title,
      description: draft.description,
      priority: Number(draft.priority),
      check_interval_seconds: (interval as number) * 60,
    }
    if (goal) {
      // null clears a cap or the schedule (GoalUpdate.clearable); a field left alone is not sent.
      save.mutate({
        ...common,
        max_cost_usd: maxCost ?? null,
        max_iterations: maxIterations ?? null,
        schedule_cron: cron || null,
        max_completions: maxCompletions ?? null,
      })
    } else {
      save.mutate({
        ...common,
        max_cost_usd: maxCost ?? null,
        max_iterations: maxIterations ?? null,
        schedule_cron: cron || null,
        max_completions: maxCompletions ?? null,
        complex: draft.complex ? true : null,
      })
    }
  }

  return (
    <Modal title={goal ? 'Edit goal' : 'New goal'} onClose={onClose} size="lg">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <TextField label="Title" value={draft.title} error={errors.title} maxLength={MAX_TITLE + 20} autoFocus
          placeholder="Review my open pull requests" onChange={(event) => set('title', event.target.value)} />
        <TextArea label="Description" rows={3} value={draft.description} hint="What done looks like; cortex plans from this."
          onChange={(event) => set('description', event.target.value)} />
        <div className="grid gap-4 sm:grid-cols-3">
          <SelectField label="Priority" value={draft.priority} onChange={(event) => set('priority', event.target.value)}>
            {[1, 2, 3, 4, 5].map((p) => (
              <option key={p} value={p}>
                {PRIORITY_LABELS[p]}
              </option>
            ))}
          </SelectField>
          <TextField label="Cost cap (USD)" type="number" inputMode="decimal" min={0} step="0.01" value={draft.maxCost}
            error={errors.maxCost} placeholder="no cap" onChange={(event) => set('maxCost', event.target.value)} />
          <TextField label="Iteration cap" type="number" inputMode="numeric" min={1} value={draft.maxIterations}
            error={errors.maxIterations} placeholder="no cap" onChange={(event) => set('maxIterations', event.target.value)} />
        </div>
        <div className="grid gap-4 sm:grid-cols-3">
          <TextField label="Schedule (cron)" value={draft.cron} error={errors.cron} placeholder="0 9 * * 1" className="sm:col-span-2"
            hint="Five fields (minute hour day month weekday) or @daily; empty: work on it until done."
            onChange={(event) => set('cron', event.target.value)} />
          <TextField label="Runs at most" type="number" inputMode="numeric" min={1} value={draft.maxCompletions}
            error={errors.maxCompletions} placeholder="until stopped" onChange={(event) => set('maxCompletions', event.target.value)} />
        </div>
        {draft.cron.trim() && <SchedulePreviewBox cron={draft.cron.trim()} settled={settledCron} preview={preview} />}
        <div className="grid gap-4 sm:grid-cols-3">
          <TextField label="Check every (minutes)" type="number" inputMode="numeric" min={MIN_INTERVAL_MINUTES} value={draft.intervalMinutes}
            error={errors.intervalMinutes} onChange={(event) => set('intervalMinutes', event.target.value)} />
          {!goal && (
            <label className="flex items-start gap-2 pt-6 text-sm sm:col-span-2">
              <input type="checkbox" checked={draft.complex} onChange={(event) => set('complex', event.target.checked)} className="mt-0.5" />
              <span>
                Complex: write a spec for me to review before building
                <span className="block text-xs text-muted">Unticked, cortex decides whether it needs one.</span>
              </span>
            </label>
          )}
        </div>
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={save.isPending}>
            {goal ? 'Save goal' : 'Create goal'}
          </Button>
        </div>
      </form>
    </Modal>
  )
}

function SchedulePreviewBox({ cron, settled, preview }: { cron: string; settled: string; preview: UseQueryResult<SchedulePreview> }) {
  const typing = cron !== settled || preview.isFetching
  return (
    <div data-testid="schedule-preview" aria-live="polite" className="rounded-md border border-line bg-sunken px-3 py-2 text-sm">
      {preview.isError ? (
        <p className="text-rose-700 dark:text-rose-300">{errorMessage(preview.error)}</p>
      ) : preview.data && !typing ? (
        <>
          <p className="font-medium">{preview.data.description ?? preview.data.schedule_cron}</p>
          <p className="mt-0.5 text-xs text-muted">Next: {preview.data.next_runs.map((run) => dateTime(run)).join(' · ')}</p>
        </>
      ) : (
        <p className="text-muted">Reading the schedule…</p>
      )}
    </div>
  )
}
