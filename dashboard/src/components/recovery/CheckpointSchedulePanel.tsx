import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../../api/client'
import { recoveryApi, recoveryQueries, type CheckpointSchedule, type CheckpointScheduleUpdate } from '../../api/recovery'
import { dateTime } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { FormError, TextField } from '../Field'
import { Panel } from '../Page'
import { ErrorNotice, Loading } from '../States'

// The bounds of nova_contracts.recovery.CheckpointScheduleUpdate.
const LIMITS = {
  interval_hours: { min: 0.25, max: 24 * 30, text: 'Between 0.25 and 720 hours.' },
  keep_last: { min: 1, max: 1000, text: 'A whole number from 1 to 1000.' },
  keep_daily_days: { min: 0, max: 3650, text: 'A whole number from 0 to 3650.' },
} as const
type NumberField = keyof typeof LIMITS

/** Scheduled checkpoints: how often, how many are kept, and when the last and next ran. */
export function CheckpointSchedulePanel() {
  const schedule = useQuery(recoveryQueries.checkpoints())
  return (
    <Panel title="Checkpoint schedule">
      {schedule.isPending && <Loading />}
      {schedule.isError && <ErrorNotice title="Could not read the checkpoint schedule" error={schedule.error} onRetry={() => void schedule.refetch()} />}
      {/* Keyed by the saved values, so the form starts from them again after a save. */}
      {schedule.data && <ScheduleForm key={JSON.stringify(schedule.data)} schedule={schedule.data} />}
    </Panel>
  )
}

function ScheduleForm({ schedule }: { schedule: CheckpointSchedule }) {
  const queryClient = useQueryClient()
  const [enabled, setEnabled] = useState(schedule.enabled ?? true)
  const [values, setValues] = useState<Record<NumberField, string>>({
    interval_hours: String(schedule.interval_hours ?? 6),
    keep_last: String(schedule.keep_last ?? 5),
    keep_daily_days: String(schedule.keep_daily_days ?? 7),
  })
  const [errors, setErrors] = useState<Partial<Record<NumberField, string>>>({})
  const save = useMutation({
    mutationFn: recoveryApi.updateCheckpoints,
    meta: { errorToast: false },
    onSuccess: (saved) => {
      queryClient.setQueryData(recoveryQueries.checkpoints().queryKey, saved)
      toast.success('Checkpoint schedule saved')
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const found: Partial<Record<NumberField, string>> = {}
    const patch: CheckpointScheduleUpdate = {}
    for (const field of Object.keys(LIMITS) as NumberField[]) {
      const { min, max, text } = LIMITS[field]
      const value = Number(values[field])
      const whole = field !== 'interval_hours'
      if (values[field].trim() === '' || !Number.isFinite(value) || value < min || value > max || (whole && !Number.isInteger(value))) found[field] = text
      else if (value !== schedule[field]) patch[field] = value
    }
    setErrors(found)
    if (Object.keys(found).length) return
    if (enabled !== schedule.enabled) patch.enabled = enabled
    if (Object.keys(patch).length === 0) return void toast.info('Nothing changed')
    save.mutate(patch)
  }

  const field = (name: NumberField, label: string, hint: string, step: string) => (
    <TextField
      label={label}
      type="number"
      inputMode="decimal"
      step={step}
      value={values[name]}
      error={errors[name]}
      hint={hint}
      onChange={(event) => setValues((current) => ({ ...current, [name]: event.target.value }))}
    />
  )

  return (
    <form onSubmit={submit} className="space-y-4" noValidate>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" className="accent-teal-600" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} />
        Take checkpoints on a schedule
      </label>
      <div className="grid gap-4 sm:grid-cols-3">
        {field('interval_hours', 'Every (hours)', 'How often a checkpoint is taken.', '0.25')}
        {field('keep_last', 'Keep the last', 'Checkpoints kept regardless of age.', '1')}
        {field('keep_daily_days', 'Keep daily for (days)', 'Plus one per day for this many days.', '1')}
      </div>
      <p className="text-xs text-muted">
        Last checkpoint {dateTime(schedule.last_run_at)}; next {schedule.enabled ? dateTime(schedule.next_run_at) : 'not scheduled'}.
      </p>
      <FormError message={save.error ? errorMessage(save.error) : null} />
      <Button type="submit" variant="primary" busy={save.isPending}>
        Save schedule
      </Button>
    </form>
  )
}
