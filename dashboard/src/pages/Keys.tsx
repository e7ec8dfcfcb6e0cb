import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { KeyRound, TriangleExclamationPoint } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import { keysApi, keysQueries, type ApiKeyCreate, type ApiKeyCreated, type ApiKeyInfo } from '../api/keys'
import { Button } from '../components/Button'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { CopyButton } from '../components/CopyButton'
import { FormError, TextField } from '../components/Field'
import { Page, PageHeader, Panel } from '../components/Page'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { count, dateTime, timeAgo } from '../format'
import { toast } from '../toast'

// The limits of nova_contracts.orchestrator.ApiKeyCreate, checked here so a typo is caught before sending.
const MAX_NAME = 100
const MAX_RPM = 100_000

/** API keys: create with a name and RPM limit, reveal the key once, list, revoke. */
export function Component() {
  const [created, setCreated] = useState<ApiKeyCreated | null>(null)
  const [revoking, setRevoking] = useState<ApiKeyInfo | null>(null)

  return (
    <Page>
      <PageHeader
        title="API keys"
        description={
          <>
            Programs call Nova with <code className="font-mono">Authorization: Bearer sk-nova-…</code> or{' '}
            <code className="font-mono">X-API-Key</code>.
          </>
        }
      />
      <div className="space-y-6">
        {created ? <RevealKey created={created} onDone={() => setCreated(null)} /> : <CreateKeyForm onCreated={setCreated} />}
        <KeyList onRevoke={setRevoking} />
      </div>
      {revoking && <RevokeKey apiKey={revoking} onClose={() => setRevoking(null)} />}
    </Page>
  )
}

function CreateKeyForm({ onCreated }: { onCreated: (key: ApiKeyCreated) => void }) {
  const queryClient = useQueryClient()
  const [name, setName] = useState('')
  const [rpm, setRpm] = useState('60')
  const [expires, setExpires] = useState('')
  const [errors, setErrors] = useState<{ name?: string; rpm?: string; expires?: string }>({})

  const create = useMutation({
    mutationFn: keysApi.create,
    meta: { errorToast: false },
    onSuccess: (key) => {
      void queryClient.invalidateQueries({ queryKey: keysQueries.all })
      setName('')
      setRpm('60')
      setExpires('')
      onCreated(key)
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: typeof errors = {}
    const trimmed = name.trim()
    const limit = Number(rpm)
    if (!trimmed) next.name = 'Give the key a name, e.g. the program that will use it.'
    else if (trimmed.length > MAX_NAME) next.name = `At most ${MAX_NAME} characters.`
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RPM) next.rpm = `A whole number from 1 to ${count(MAX_RPM)}.`
    let expiresAt: string | null = null
    if (expires) {
      // The end of the chosen day in the browser's time zone, sent with its offset (the API wants aware times).
      const end = new Date(`${expires}T23:59:59`)
      if (Number.isNaN(end.getTime()) || end.getTime() <= Date.now()) next.expires = 'Pick a day in the future, or leave it empty.'
      else expiresAt = end.toISOString()
    }
    setErrors(next)
    if (Object.keys(next).length > 0) return
    const body: ApiKeyCreate = { name: trimmed, rate_limit_rpm: limit, expires_at: expiresAt }
    create.mutate(body)
  }

  return (
    <Panel title="Create a key">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <div className="grid gap-4 sm:grid-cols-[2fr_1fr_1fr]">
          <TextField
            label="Name"
            value={name}
            error={errors.name}
            maxLength={MAX_NAME + 20}
            placeholder="ci-pipeline"
            onChange={(event) => setName(event.target.value)}
          />
          <TextField
            label="Requests per minute"
            type="number"
            inputMode="numeric"
            min={1}
            max={MAX_RPM}
            value={rpm}
            error={errors.rpm}
            onChange={(event) => setRpm(event.target.value)}
          />
          <TextField
            label="Expires (optional)"
            type="date"
            value={expires}
            error={errors.expires}
            onChange={(event) => setExpires(event.target.value)}
          />
        </div>
        <FormError message={create.error ? errorMessage(create.error) : null} />
        <Button type="submit" variant="primary" busy={create.isPending}>
          <KeyRound className="h-4 w-4" aria-hidden />
          Create key
        </Button>
      </form>
    </Panel>
  )
}

/** The one time the raw key is on screen: the orchestrator keeps only its hash. */
function RevealKey({ created, onDone }: { created: ApiKeyCreated; onDone: () => void }) {
  return (
    <section
      aria-labelledby="new-key-title"
      className="space-y-3 rounded-lg border border-amber-300 bg-amber-50 p-4 text-amber-950 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-50"
    >
      <h2 id="new-key-title" className="flex items-center gap-2 font-semibold">
        <TriangleExclamationPoint className="h-4 w-4" aria-hidden />
        Copy the key “{created.name}” now
      </h2>
      <p className="text-sm">It is shown only this once. Nova stores a hash, so a lost key cannot be recovered, only replaced.</p>
      <div className="flex flex-wrap items-center gap-2">
        <code
          data-testid="new-api-key"
          className="min-w-0 flex-1 rounded-md border border-amber-300 bg-white px-3 py-2 font-mono text-sm break-all text-stone-900 select-all dark:border-amber-700 dark:bg-stone-900 dark:text-stone-100"
        >
          {created.key}
        </code>
        <CopyButton text={created.key} label="Copy key" />
      </div>
      <Button variant="primary" onClick={onDone}>
        I have saved it
      </Button>
    </section>
  )
}

function keyStatus(key: ApiKeyInfo): { label: string; tone: string } {
  if (key.revoked_at) return { label: 'revoked', tone: badgeTone.neutral }
  if (key.expires_at && new Date(key.expires_at).getTime() <= Date.now()) return { label: 'expired', tone: badgeTone.warn }
  return { label: 'active', tone: badgeTone.good }
}

function KeyList({ onRevoke }: { onRevoke: (key: ApiKeyInfo) => void }) {
  const keys = useQuery(keysQueries.list())

  if (keys.isPending) return <Loading label="Loading keys…" />
  if (keys.isError) return <ErrorNotice title="Could not load the keys" error={keys.error} onRetry={() => void keys.refetch()} />
  if (keys.data.length === 0) return <EmptyState title="No API keys yet">Create one above for each program that calls Nova.</EmptyState>

  return (
    // `relative`: the screen-reader-only header text is absolutely positioned and would widen the page.
    <div className="relative overflow-x-auto rounded-lg border border-line bg-panel">
      <table className="w-full text-left text-sm">
        <caption className="sr-only">API keys</caption>
        <thead className="bg-sunken text-xs tracking-wide text-muted uppercase">
          <tr>
            <th scope="col" className="px-4 py-2 font-medium">Name</th>
            <th scope="col" className="px-4 py-2 font-medium">Key</th>
            <th scope="col" className="px-4 py-2 text-right font-medium">RPM</th>
            <th scope="col" className="px-4 py-2 font-medium">Created</th>
            <th scope="col" className="px-4 py-2 font-medium">Last used</th>
            <th scope="col" className="px-4 py-2 font-medium">Status</th>
            <th scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody className="divide-y divide-line">
          {keys.data.map((key) => {
            const status = keyStatus(key)
            return (
              <tr key={key.id} className={status.label === 'active' ? undefined : 'text-muted'}>
                <td className="px-4 py-2 font-medium">{key.name}</td>
                <td className="px-4 py-2 font-mono text-xs whitespace-nowrap">{key.key_prefix}…</td>
                <td className="px-4 py-2 text-right tabular-nums">{count(key.rate_limit_rpm)}</td>
                <td className="px-4 py-2 whitespace-nowrap" title={dateTime(key.created_at)}>{timeAgo(key.created_at)}</td>
                <td className="px-4 py-2 whitespace-nowrap" title={dateTime(key.last_used_at)}>{timeAgo(key.last_used_at)}</td>
                <td className="px-4 py-2">
                  <Badge className={status.tone}>{status.label}</Badge>
                  {key.expires_at && status.label === 'active' && (
                    <span className="ml-2 text-xs text-muted">until {dateTime(key.expires_at)}</span>
                  )}
                </td>
                <td className="px-4 py-2 text-right">
                  {!key.revoked_at && (
                    <Button size="sm" variant="ghost" onClick={() => onRevoke(key)} aria-label={`Revoke ${key.name}`}>
                      Revoke
                    </Button>
                  )}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function RevokeKey({ apiKey, onClose }: { apiKey: ApiKeyInfo; onClose: () => void }) {
  const queryClient = useQueryClient()
  const revoke = useMutation({
    mutationFn: () => keysApi.revoke(apiKey.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(`Key “${apiKey.name}” revoked`)
      void queryClient.invalidateQueries({ queryKey: keysQueries.all })
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title={`Revoke “${apiKey.name}”?`}
      confirmLabel="Revoke key"
      onConfirm={() => revoke.mutate()}
      onCancel={onClose}
      busy={revoke.isPending}
      error={revoke.error ? errorMessage(revoke.error) : null}
    >
      Programs using <code className="font-mono">{apiKey.key_prefix}…</code> will get 401 from their next request. This cannot be undone.
    </ConfirmDialog>
  )
}
