import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../../api/client'
import { RESET_CONFIRMATION, recoveryApi, recoveryQueries, type ResetCategory, type ResetCategoryName, type ResetReport } from '../../api/recovery'
import { count } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { FormError, TextField } from '../Field'
import { Panel } from '../Page'
import { ErrorNotice, Loading } from '../States'

/**
 * Factory reset by category. Each category says what it removes; nothing happens until RESET is typed, and a
 * backup is taken first unless the box is cleared.
 */
export function FactoryReset() {
  const queryClient = useQueryClient()
  const categories = useQuery(recoveryQueries.resetCategories())
  const [chosen, setChosen] = useState<ResetCategoryName[]>([])
  const [typed, setTyped] = useState('')
  const [backupFirst, setBackupFirst] = useState(true)
  const reset = useMutation({
    mutationFn: () => recoveryApi.reset({ categories: chosen, confirm: typed, backup_first: backupFirst }),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Factory reset done')
      setChosen([])
      setTyped('')
      void queryClient.invalidateQueries()
    },
  })

  function toggle(name: ResetCategoryName, on: boolean) {
    setChosen((current) => (on ? [...current, name] : current.filter((c) => c !== name)))
  }

  function submit(event: FormEvent) {
    event.preventDefault()
    if (chosen.length > 0 && typed === RESET_CONFIRMATION) reset.mutate()
  }

  const ready = chosen.length > 0 && typed === RESET_CONFIRMATION
  return (
    <Panel title="Factory reset">
      {categories.isPending && <Loading />}
      {categories.isError && <ErrorNotice title="Could not load the reset categories" error={categories.error} onRetry={() => void categories.refetch()} />}
      {categories.data && (
        <form onSubmit={submit} className="space-y-4" noValidate>
          <fieldset>
            <legend className="mb-2 text-sm text-muted">Choose what to remove. Everything outside the chosen categories stays as it is.</legend>
            <ul className="grid gap-2 lg:grid-cols-2" aria-label="Reset categories">
              {categories.data.categories.map((category) => (
                <li key={category.name}>
                  <CategoryChoice category={category} checked={chosen.includes(category.name)} onChange={(on) => toggle(category.name, on)} />
                </li>
              ))}
            </ul>
          </fieldset>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" className="accent-teal-600" checked={backupFirst} onChange={(event) => setBackupFirst(event.target.checked)} />
            Back up first (recommended)
          </label>
          <TextField
            label={`Type ${RESET_CONFIRMATION} to confirm`}
            className="max-w-xs"
            autoComplete="off"
            value={typed}
            onChange={(event) => setTyped(event.target.value)}
          />
          <FormError message={reset.error ? errorMessage(reset.error) : null} />
          <Button type="submit" variant="danger" disabled={!ready} busy={reset.isPending}>
            {chosen.length ? `Reset ${chosen.length} ${chosen.length === 1 ? 'category' : 'categories'}` : 'Reset'}
          </Button>
        </form>
      )}
      {reset.data && <ResetResult report={reset.data} />}
    </Panel>
  )
}

function CategoryChoice({ category, checked, onChange }: { category: ResetCategory; checked: boolean; onChange: (on: boolean) => void }) {
  return (
    <label className={`flex h-full cursor-pointer gap-2 rounded-md border p-3 text-sm ${checked ? 'border-rose-400 bg-rose-50 dark:bg-rose-950' : 'border-line hover:bg-sunken'}`}>
      <input type="checkbox" className="mt-0.5 accent-rose-600" checked={checked} onChange={(event) => onChange(event.target.checked)} />
      <span className="min-w-0">
        <span className="block font-medium">{category.title}</span>
        <span className="block text-muted">{category.description}</span>
        <span className="mt-1 block text-xs break-words text-muted">
          {category.tables.length > 0 && <>Tables: {category.tables.join(', ')}. </>}
          {category.redis.length > 0 && <>Redis: {category.redis.map((r) => `${r.pattern} (DB ${r.db})`).join(', ')}. </>}
          {(category.files ?? []).length > 0 && <>Files: {(category.files ?? []).join(', ')}.</>}
        </span>
      </span>
    </label>
  )
}

function ResetResult({ report }: { report: ResetReport }) {
  const rows = Object.entries(report.rows_deleted)
  return (
    <section aria-label="Reset result" className="mt-4 space-y-1 rounded-md bg-sunken px-3 py-2 text-sm">
      <p className="font-medium">
        Removed {count(rows.reduce((sum, [, n]) => sum + n, 0))} rows, {count(report.redis_keys_deleted)} Redis keys and {count(report.files_deleted)} files.
      </p>
      {rows.length > 0 && <p className="text-muted">{rows.map(([table, n]) => `${table}: ${count(n)}`).join(', ')}</p>}
      <p className="text-muted">{report.backup ? `The state from before is kept as ${report.backup}.` : 'No backup was taken first.'}</p>
    </section>
  )
}
