import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { KeyRound, ShieldCheck, Trash } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../../api/client'
import { isValidationPending, knowledgeApi, knowledgeQueries, type Credential } from '../../api/knowledge'
import { dateTime, timeAgo } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { ConfirmDialog } from '../ConfirmDialog'
import { FormError, SelectField, TextField } from '../Field'
import { Panel } from '../Page'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'

// The limits of nova_contracts.knowledge.CredentialCreate.
const MAX_NAME = 200
const MIN_SECRET = 4
const MAX_SECRET = 4096

const PLATFORM_LABELS: Record<Credential['platform'], string> = { github: 'GitHub' }

function validity(credential: Credential): { label: string; tone: string } {
  if (isValidationPending(credential)) return { label: 'checking…', tone: badgeTone.accent }
  if (credential.valid === true) return { label: 'valid', tone: badgeTone.good }
  if (credential.valid === false) return { label: 'invalid', tone: badgeTone.bad }
  return { label: 'not checked yet', tone: badgeTone.neutral }
}

/** Tokens the crawls use, stored encrypted: add, see the masked tail and the last check, validate, delete. */
export function CredentialsPanel() {
  const credentials = useQuery(knowledgeQueries.credentials())
  const [removing, setRemoving] = useState<Credential | null>(null)

  return (
    <Panel title="Credentials">
      <p className="mb-3 text-sm text-muted">
        Stored encrypted. Nova never shows a token again, only its last four characters; only knowledge-worker can read it.
      </p>
      <div className="space-y-4">
        <AddCredential />
        {credentials.isPending && <Loading label="Loading credentials…" />}
        {credentials.isError && (
          <ErrorNotice title="Could not load the credentials" error={credentials.error} onRetry={() => void credentials.refetch()} />
        )}
        {credentials.isSuccess && credentials.data.length === 0 && <EmptyState title="No credentials stored" />}
        {credentials.isSuccess && credentials.data.length > 0 && (
          <div className="relative overflow-x-auto rounded-md border border-line">
            <table className="w-full text-left text-sm">
              <caption className="sr-only">Credentials</caption>
              <thead className="bg-sunken text-xs tracking-wide text-muted uppercase">
                <tr>
                  <th scope="col" className="px-3 py-2 font-medium">Name</th>
                  <th scope="col" className="px-3 py-2 font-medium">Token</th>
                  <th scope="col" className="px-3 py-2 font-medium">Check</th>
                  <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody className="divide-y divide-line">
                {credentials.data.map((credential) => (
                  <CredentialRow key={credential.id} credential={credential} onRemove={() => setRemoving(credential)} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      {removing && <RemoveCredential credential={removing} onClose={() => setRemoving(null)} />}
    </Panel>
  )
}

function CredentialRow({ credential, onRemove }: { credential: Credential; onRemove: () => void }) {
  const queryClient = useQueryClient()
  const validate = useMutation({
    mutationFn: () => knowledgeApi.validateCredential(credential.id),
    onSuccess: () => {
      toast.info(`knowledge-worker checks “${credential.name}” on its next round`)
      void queryClient.invalidateQueries({ queryKey: knowledgeQueries.all })
    },
  })
  const state = validity(credential)
  return (
    <tr>
      <td className="px-3 py-2">
        <span className="font-medium">{credential.name}</span>
        <span className="block text-xs text-muted">{PLATFORM_LABELS[credential.platform]}</span>
      </td>
      <td className="px-3 py-2 font-mono text-xs whitespace-nowrap" data-testid="credential-masked">
        {credential.masked}
      </td>
      <td className="px-3 py-2">
        <Badge className={state.tone}>{state.label}</Badge>
        {credential.validated_at && (
          <span className="ml-2 text-xs text-muted" title={dateTime(credential.validated_at)}>
            {timeAgo(credential.validated_at)}
          </span>
        )}
        {credential.validation_message && <span className="block text-xs break-words text-muted">{credential.validation_message}</span>}
      </td>
      <td className="px-3 py-2 text-right whitespace-nowrap">
        <Button size="sm" onClick={() => validate.mutate()} busy={validate.isPending} aria-label={`Validate ${credential.name}`}>
          <ShieldCheck className="h-3.5 w-3.5" aria-hidden />
          Validate
        </Button>
        <Button size="sm" variant="ghost" onClick={onRemove} aria-label={`Delete ${credential.name}`}>
          <Trash className="h-3.5 w-3.5" aria-hidden />
        </Button>
      </td>
    </tr>
  )
}

function AddCredential() {
  const queryClient = useQueryClient()
  const [name, setName] = useState('')
  const [secret, setSecret] = useState('')
  const [platform, setPlatform] = useState<Credential['platform']>('github')
  const [errors, setErrors] = useState<{ name?: string; secret?: string }>({})
  const add = useMutation({
    mutationFn: knowledgeApi.addCredential,
    meta: { errorToast: false },
    onSuccess: (credential) => {
      // The token leaves the page's state as soon as the server has it.
      setSecret('')
      setName('')
      toast.success(`Saved “${credential.name}” (${credential.masked})`)
      void queryClient.invalidateQueries({ queryKey: knowledgeQueries.all })
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: typeof errors = {}
    const trimmed = name.trim()
    const token = secret.trim()
    if (!trimmed) next.name = 'Give the credential a name.'
    else if (trimmed.length > MAX_NAME) next.name = `At most ${MAX_NAME} characters.`
    if (token.length < MIN_SECRET || token.length > MAX_SECRET) next.secret = `Paste the token (${MIN_SECRET} to ${MAX_SECRET} characters).`
    setErrors(next)
    if (Object.keys(next).length > 0) return
    add.mutate({ name: trimmed, platform, secret: token })
  }

  return (
    <form onSubmit={submit} className="space-y-3" noValidate aria-label="Add a credential">
      <div className="grid gap-3 sm:grid-cols-[2fr_minmax(7rem,1fr)_3fr]">
        <TextField label="Credential name" value={name} error={errors.name} placeholder="github-personal" onChange={(event) => setName(event.target.value)} />
        <SelectField label="Platform" value={platform} onChange={(event) => setPlatform(event.target.value as Credential['platform'])}>
          {(Object.keys(PLATFORM_LABELS) as Credential['platform'][]).map((value) => (
            <option key={value} value={value}>
              {PLATFORM_LABELS[value]}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={secret}
          error={errors.secret}
          placeholder="ghp_…"
          onChange={(event) => setSecret(event.target.value)}
        />
      </div>
      <FormError message={add.error ? errorMessage(add.error) : null} />
      <Button type="submit" variant="primary" size="sm" busy={add.isPending}>
        <KeyRound className="h-3.5 w-3.5" aria-hidden />
        Save credential
      </Button>
    </form>
  )
}

function RemoveCredential({ credential, onClose }: { credential: Credential; onClose: () => void }) {
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: () => knowledgeApi.deleteCredential(credential.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(`Deleted “${credential.name}”`)
      void queryClient.invalidateQueries({ queryKey: knowledgeQueries.all })
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title={`Delete “${credential.name}”?`}
      confirmLabel="Delete credential"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      busy={remove.isPending}
      error={remove.error ? errorMessage(remove.error) : null}
    >
      Sources using it crawl without a token from then on (GitHub's public rate limit).
    </ConfirmDialog>
  )
}
