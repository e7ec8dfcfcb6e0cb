import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../../api/client'
import { recoveryApi, recoveryQueries, type EnvEntry, type EnvUpdateResult } from '../../api/recovery'
import { toast } from '../../toast'
import { Button } from '../Button'
import { FormError, TextField } from '../Field'
import { Panel } from '../Page'
import { ErrorNotice, Loading } from '../States'
import { RestartServiceDialog } from './ManagedServicesPanel'

/**
 * The whitelisted `.env` keys. Secrets are never sent back by recovery: their box starts empty and only a
 * typed value replaces them. Saving says which services must restart to read the change.
 */
export function EnvFileEditor() {
  const env = useQuery(recoveryQueries.env())
  // Kept here: the form below starts afresh from the saved file, the services to restart stay on screen.
  const [result, setResult] = useState<EnvUpdateResult | null>(null)
  const [restarting, setRestarting] = useState<string | null>(null)
  return (
    <Panel title=".env file">
      {env.isPending && <Loading />}
      {env.isError && <ErrorNotice title="Could not read the .env file" error={env.error} onRetry={() => void env.refetch()} />}
      {env.data && <EnvForm key={JSON.stringify(env.data.entries)} path={env.data.path} entries={env.data.entries} onSaved={setResult} />}
      {result && (
        <div role="status" aria-label="Saved .env" className="mt-4 space-y-2 rounded-md bg-sunken px-3 py-2 text-sm">
          <p>
            Changed {result.changed.join(', ') || 'nothing'}.{' '}
            {result.restart_needed.length ? `Restart ${result.restart_needed.join(', ')} to apply it.` : 'No restart is needed.'}
          </p>
          {result.restart_needed.length > 0 && (
            <div className="flex flex-wrap gap-2">
              {result.restart_needed.map((service) => (
                <Button key={service} size="sm" onClick={() => setRestarting(service)}>
                  Restart {service}
                </Button>
              ))}
            </div>
          )}
        </div>
      )}
      {restarting && <RestartServiceDialog name={restarting} onDone={() => setRestarting(null)} />}
    </Panel>
  )
}

function EnvForm({ path, entries, onSaved }: { path: string; entries: EnvEntry[]; onSaved: (result: EnvUpdateResult) => void }) {
  const queryClient = useQueryClient()
  // Only keys the user touched: a string sets the key, null removes it.
  const [edits, setEdits] = useState<Record<string, string | null>>({})
  const save = useMutation({
    mutationFn: recoveryApi.updateEnv,
    meta: { errorToast: false },
    onSuccess: (saved) => {
      onSaved(saved)
      toast.success(`Saved ${saved.changed.length} ${saved.changed.length === 1 ? 'key' : 'keys'} to .env`)
      void queryClient.invalidateQueries({ queryKey: recoveryQueries.env().queryKey })
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const updates: Record<string, string | null> = {}
    for (const entry of entries) {
      if (!(entry.key in edits)) continue
      const edit = edits[entry.key]!
      if (edit === null) {
        if (entry.set) updates[entry.key] = null
      } else if (entry.secret) {
        // An empty secret box keeps the current secret.
        if (edit.trim()) updates[entry.key] = edit.trim()
      } else if (edit.trim() === '') {
        if (entry.set) updates[entry.key] = null
      } else if (edit.trim() !== entry.value) {
        updates[entry.key] = edit.trim()
      }
    }
    if (Object.keys(updates).length === 0) return void toast.info('Nothing changed')
    save.mutate(updates)
  }

  return (
    <form onSubmit={submit} className="space-y-4" noValidate>
      <p className="text-sm text-muted">
        Writes <span className="font-mono">{path}</span> in place, keeping its comments and order. Services read it when they start.
      </p>
      <div className="grid gap-4 sm:grid-cols-2">
        {entries.map((entry) => {
          const edit = edits[entry.key]
          const removing = edit === null
          return (
            <div key={entry.key} className="min-w-0">
              <TextField
                label={<span className="font-mono text-xs break-all">{entry.key}</span>}
                type={entry.secret ? 'password' : 'text'}
                autoComplete="off"
                value={edit ?? (entry.secret ? '' : (entry.value ?? ''))}
                disabled={removing}
                placeholder={entry.secret ? (entry.set ? `set (${entry.value ?? 'hidden'}); type to replace` : 'not set') : 'not set'}
                hint={entry.restart.length ? `Restart after a change: ${entry.restart.join(', ')}` : 'Read without a restart.'}
                onChange={(event) => setEdits((current) => ({ ...current, [entry.key]: event.target.value }))}
              />
              {entry.secret && entry.set && (
                <label className="mt-1 flex items-center gap-1.5 text-xs text-muted">
                  <input
                    type="checkbox"
                    checked={removing}
                    onChange={(event) =>
                      setEdits((current) => {
                        const next = { ...current }
                        if (event.target.checked) next[entry.key] = null
                        else delete next[entry.key]
                        return next
                      })
                    }
                  />
                  Remove {entry.key}
                </label>
              )}
            </div>
          )
        })}
      </div>
      <FormError message={save.error ? errorMessage(save.error) : null} />
      <Button type="submit" variant="primary" busy={save.isPending}>
        Save .env
      </Button>
    </form>
  )
}
