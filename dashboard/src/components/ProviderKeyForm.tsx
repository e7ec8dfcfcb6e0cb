import { useMutation, useQueryClient } from '@tanstack/react-query'
import { KeyRound } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import { configApi, configQueries, type ConfigEntry } from '../api/config'
import { modelsQueries, watchProvider, type ProviderStatus } from '../api/models'
import { timeAgo } from '../format'
import { toast } from '../toast'
import { Button } from './Button'
import { ConfirmDialog } from './ConfirmDialog'
import { FormError, TextField } from './Field'

// The orchestrator's bounds for a secret setting (platform_config/service.py `_secret`).
const MIN_KEY_LENGTH = 8
const MAX_KEY_LENGTH = 8192

/** Why `key` cannot be a provider key, or null when it may be sent. */
export function providerKeyProblem(key: string): string | null {
  if (!key) return 'Paste the key first.'
  if (key.includes('•')) return 'That is the masked value; paste the key itself.'
  if (/\s/.test(key)) return 'A key has no spaces or line breaks.'
  if (key.length < MIN_KEY_LENGTH) return `Too short for a key (at least ${MIN_KEY_LENGTH} characters).`
  if (key.length > MAX_KEY_LENGTH) return `Too long for a key (at most ${MAX_KEY_LENGTH.toLocaleString()} characters).`
  return null
}

function credentialName(provider: Pick<ProviderStatus, 'name' | 'type'>): string {
  // Subscriptions sign in with an OAuth or access token rather than an API key.
  return `${provider.name} ${provider.type === 'subscription' ? 'token' : 'API key'}`
}

type Check = { state: 'checking' } | { state: 'done'; provider: ProviderStatus | undefined; wanted: boolean }

/**
 * Set, replace or remove a provider's key (a secret platform setting). The key goes to the orchestrator and
 * is never shown again, only its mask; afterwards the gateway is asked until the provider's availability
 * follows, which takes a few seconds.
 */
export function ProviderKeyForm({ provider, entry }: { provider: ProviderStatus; entry: ConfigEntry }) {
  const queryClient = useQueryClient()
  const [key, setKey] = useState('')
  const [problem, setProblem] = useState<string | null>(null)
  const [confirmRemove, setConfirmRemove] = useState(false)
  const [check, setCheck] = useState<Check | null>(null)
  const label = credentialName(provider)

  const watch = useMutation({
    mutationFn: (wanted: boolean) =>
      watchProvider(provider.slug, wanted, {
        onStatuses: (statuses) => queryClient.setQueryData(modelsQueries.providers().queryKey, statuses),
      }),
    meta: { errorToast: false },
    onMutate: () => setCheck({ state: 'checking' }),
    onSuccess: (status, wanted) => setCheck({ state: 'done', provider: status, wanted }),
    onError: () => setCheck(null),
    // The chat's model list follows the providers.
    onSettled: () => queryClient.invalidateQueries({ queryKey: modelsQueries.models().queryKey }),
  })

  const save = useMutation({
    mutationFn: (value: string | null) => configApi.setProviderKey(provider.slug, value),
    meta: { errorToast: false },
    onMutate: () => setCheck(null),
    onSuccess: (saved, value) => {
      // Cleared only now: a refused key stays in the box to be corrected.
      setKey('')
      setConfirmRemove(false)
      queryClient.setQueryData<ConfigEntry[]>(configQueries.entries().queryKey, (entries) =>
        entries?.map((current) => (current.key === saved.key ? saved : current)),
      )
      void queryClient.invalidateQueries({ queryKey: configQueries.entries().queryKey })
      toast.success(value === null ? `${label} removed` : `${label} saved`)
      watch.mutate(value !== null)
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const trimmed = key.trim()
    const found = providerKeyProblem(trimmed)
    setProblem(found)
    if (!found) save.mutate(trimmed)
  }

  // A removed key is stored as null, so `is_set` alone does not say a key is there.
  const hasKey = entry.is_set && entry.value != null
  return (
    <form onSubmit={submit} noValidate className="mt-3 space-y-2 border-t border-line pt-3">
      <p className="flex flex-wrap items-center gap-x-2 text-sm" data-testid={`provider-key-${provider.slug}`}>
        <KeyRound className="h-3.5 w-3.5 text-muted" aria-hidden />
        {hasKey ? (
          <>
            <span>Saved key</span>
            <code className="font-mono">{String(entry.value)}</code>
            {entry.updated_at && <span className="text-xs text-muted">updated {timeAgo(entry.updated_at)}</span>}
          </>
        ) : (
          <span className="text-muted">
            No key saved in Nova{provider.available ? '; the gateway has one from its environment' : ''}
          </span>
        )}
      </p>
      <div className="flex flex-wrap items-start gap-2">
        <TextField
          label={label}
          type="password"
          autoComplete="off"
          spellCheck={false}
          className="min-w-0 flex-1 basis-56"
          value={key}
          error={problem}
          placeholder={hasKey ? 'paste a new key to replace it' : 'paste the key'}
          onChange={(event) => {
            setKey(event.target.value)
            setProblem(null)
          }}
        />
        <div className="flex gap-2 sm:mt-6">
          <Button type="submit" size="sm" variant="primary" busy={save.isPending && save.variables !== null}>
            {hasKey ? 'Replace key' : 'Save key'}
          </Button>
          {hasKey && (
            <Button size="sm" variant="ghost" onClick={() => setConfirmRemove(true)}>
              Remove key
            </Button>
          )}
        </div>
      </div>
      {!confirmRemove && <FormError message={save.error ? errorMessage(save.error) : null} />}
      <CheckStatus check={check} error={watch.error} name={provider.name} />
      {confirmRemove && (
        <ConfirmDialog
          title={`Remove the ${label}?`}
          confirmLabel="Remove key"
          busy={save.isPending}
          error={save.error ? errorMessage(save.error) : null}
          onCancel={() => {
            setConfirmRemove(false)
            save.reset()
          }}
          onConfirm={() => save.mutate(null)}
        >
          Nova stops using {provider.name} with this key within a few seconds. A key the gateway reads from its own environment
          (<code className="font-mono">{provider.auth_methods?.[0] ?? '.env'}</code>) still applies.
        </ConfirmDialog>
      )}
    </form>
  )
}

function CheckStatus({ check, error, name }: { check: Check | null; error: unknown; name: string }) {
  if (error) return <p role="alert" className="text-sm text-rose-700 dark:text-rose-300">Could not ask the gateway: {errorMessage(error)}</p>
  if (!check) return null
  if (check.state === 'checking') return <p role="status" className="text-sm text-muted">Waiting for the gateway to pick the change up…</p>
  const available = check.provider?.available ?? false
  const settled = available === check.wanted
  const reason = check.provider?.reason ? `: ${check.provider.reason}` : ''
  let text: string
  if (settled) text = available ? `${name} is available.` : `${name} is not available${reason}.`
  else if (check.wanted) text = `The gateway does not report ${name} available yet${reason}. It may need a little longer; discover again to check.`
  else text = `${name} is still available: with a key from the gateway's environment, or the gateway has not picked the change up yet.`
  return (
    <p role="status" className={`text-sm ${available ? 'text-emerald-700 dark:text-emerald-300' : 'text-amber-700 dark:text-amber-300'}`}>
      {text}
    </p>
  )
}
