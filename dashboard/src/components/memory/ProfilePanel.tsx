import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { MessageSquareWarning } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../../api/client'
import { keysQueries } from '../../api/keys'
import { memoryApi, memoryQueries, type FormationResult, type ProfileBelief } from '../../api/memory'
import { timeAgo } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { FormError, SelectField, TextArea } from '../Field'
import { Modal } from '../Modal'
import { Panel } from '../Page'
import { EmptyState, ErrorNotice, Loading } from '../States'
import { SourceLabel } from './SourceLabel'

// ProfileCorrection.correction's limit in nova_contracts.memory.
const MAX_CORRECTION = 5000
// memory-service's owners: the admin (this dashboard's user), callers with no key, and each API key.
const ADMIN = 'admin'

/** What Nova believes about its user (facts and preferences, each with confidence and source), and a way to fix it. */
export function ProfilePanel() {
  const [owner, setOwner] = useState(ADMIN)
  const profile = useQuery(memoryQueries.profile(owner))
  const [correcting, setCorrecting] = useState<ProfileBelief | null>(null)

  return (
    <div className="space-y-4">
      <OwnerPicker value={owner} onChange={setOwner} />
      <Panel title="Correct something">
        <CorrectionForm key={owner} owner={owner} />
      </Panel>
      {profile.isPending && <Loading label="Loading the profile…" />}
      {profile.isError && <ErrorNotice title="Could not load the profile" error={profile.error} onRetry={() => void profile.refetch()} />}
      {profile.isSuccess && (
        <>
          <BeliefList
            title="Facts"
            empty="No facts yet. Nova learns them from chats, tasks and corrections."
            beliefs={profile.data.facts ?? []}
            onCorrect={setCorrecting}
          />
          <BeliefList
            title="Preferences"
            empty="No preferences yet."
            beliefs={profile.data.preferences ?? []}
            onCorrect={setCorrecting}
          />
        </>
      )}
      {correcting && (
        <Modal title="Correct this belief" onClose={() => setCorrecting(null)} size="lg">
          <p className="mb-1 text-sm text-muted">Nova believes:</p>
          <blockquote className="mb-4 rounded-md bg-sunken p-3 text-sm break-words whitespace-pre-wrap">{correcting.content}</blockquote>
          <CorrectionForm owner={owner} onDone={() => setCorrecting(null)} autoFocus />
        </Modal>
      )}
    </div>
  )
}

function BeliefList({
  title,
  empty,
  beliefs,
  onCorrect,
}: {
  title: string
  empty: string
  beliefs: ProfileBelief[]
  onCorrect: (belief: ProfileBelief) => void
}) {
  return (
    <Panel title={title}>
      {beliefs.length === 0 ? (
        <EmptyState title={`No ${title.toLowerCase()}`}>{empty}</EmptyState>
      ) : (
        <ul className="divide-y divide-line" aria-label={title}>
          {beliefs.map((belief) => (
            <li key={belief.memory_id} className="flex flex-wrap items-start justify-between gap-3 py-3">
              <div className="min-w-0 flex-1 space-y-1">
                {(belief.subject || belief.attribute) && (
                  <p className="text-xs text-muted">{[belief.subject, belief.attribute].filter(Boolean).join(' · ')}</p>
                )}
                <p className="text-sm break-words whitespace-pre-wrap">{belief.content}</p>
                <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-muted">
                  <Confidence value={belief.confidence} />
                  <span>importance {belief.importance.toFixed(2)}</span>
                  <span>updated {timeAgo(belief.updated_at)}</span>
                  {belief.source ? (
                    <span className="flex min-w-0 items-center gap-1">
                      from <SourceLabel source={belief.source} linkToSource />
                    </span>
                  ) : (
                    <span>source unknown</span>
                  )}
                </div>
              </div>
              <Button size="sm" onClick={() => onCorrect(belief)} aria-label={`Correct: ${belief.content}`}>
                <MessageSquareWarning className="h-3.5 w-3.5" aria-hidden />
                Correct this
              </Button>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  )
}

/** Confidence as a percentage with a small bar, so "how sure" reads at a glance. */
function Confidence({ value }: { value: number }) {
  const percent = Math.round(value * 100)
  return (
    <span className="inline-flex items-center gap-1.5" title={`confidence ${value.toFixed(3)}`}>
      <span className="h-1.5 w-12 overflow-hidden rounded-full bg-sunken" aria-hidden>
        <span className="block h-full bg-accent" style={{ width: `${percent}%` }} />
      </span>
      {percent}% sure
    </span>
  )
}

/** What a correction changed, in a sentence. */
export function describeCorrection(result: FormationResult): string {
  if (result.unextracted) return 'Saved as a note: the model could not read a fact from it, so nothing was replaced.'
  const parts: string[] = []
  const replaced = result.superseded?.length ?? 0
  const created = result.created?.length ?? 0
  const reinforced = result.reinforced?.length ?? 0
  if (replaced) parts.push(`${replaced} ${replaced === 1 ? 'belief' : 'beliefs'} replaced`)
  if (created) parts.push(`${created} new`)
  if (reinforced) parts.push(`${reinforced} confirmed`)
  return parts.length ? `Correction saved: ${parts.join(', ')}.` : 'Correction saved; it matched nothing Nova believed.'
}

/** Whose beliefs to show: the admin's by default, or what Nova learnt from the callers of one API key. */
function OwnerPicker({ value, onChange }: { value: string; onChange: (owner: string) => void }) {
  // Without the key list (orchestrator down, or not allowed) the admin's and local profiles still work.
  const keys = useQuery(keysQueries.list())
  return (
    <SelectField label="Whose profile" className="w-72" value={value} onChange={(event) => onChange(event.target.value)}>
      <option value={ADMIN}>Yours (admin)</option>
      <option value="local">Local callers without a key</option>
      {(keys.data ?? []).map((key) => (
        <option key={key.id} value={`key:${key.id.toLowerCase()}`}>
          API key {key.name} ({key.key_prefix}…)
        </option>
      ))}
    </SelectField>
  )
}

function CorrectionForm({ owner, onDone, autoFocus = false }: { owner: string; onDone?: () => void; autoFocus?: boolean }) {
  const queryClient = useQueryClient()
  const [text, setText] = useState('')
  const [error, setError] = useState<string | null>(null)
  const correct = useMutation({
    mutationFn: (correction: string) => memoryApi.correctProfile({ correction, owner }),
    meta: { errorToast: false },
    onSuccess: (result) => {
      toast.success(describeCorrection(result))
      setText('')
      void queryClient.invalidateQueries({ queryKey: memoryQueries.all })
      onDone?.()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const trimmed = text.trim()
    if (!trimmed) return setError('Say what is true, in your own words.')
    if (trimmed.length > MAX_CORRECTION) return setError(`At most ${MAX_CORRECTION} characters.`)
    correct.mutate(trimmed)
  }

  return (
    <form onSubmit={submit} className="space-y-3" noValidate>
      <TextArea
        label="What is true"
        rows={3}
        autoFocus={autoFocus}
        placeholder="e.g. I live in Lisbon now, not Porto."
        hint="Plain words are fine. A correction is trusted more than anything Nova picked up on its own."
        value={text}
        error={error}
        onChange={(event) => {
          setText(event.target.value)
          setError(null)
        }}
      />
      <FormError message={correct.error ? errorMessage(correct.error) : null} />
      <div className="flex justify-end gap-2">
        {onDone && <Button onClick={onDone}>Cancel</Button>}
        <Button type="submit" variant="primary" busy={correct.isPending}>
          Save correction
        </Button>
      </div>
    </form>
  )
}
