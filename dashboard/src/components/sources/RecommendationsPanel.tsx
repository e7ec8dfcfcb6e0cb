import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Check, Sparkles, Target, Undo2, X } from 'lucide-react'
import { useState, type FormEvent } from 'react'
import { Link } from 'react-router'

import { errorMessage } from '../../api/client'
import { goalQueries } from '../../api/goals'
import { intelApi, intelQueries, type Recommendation, type RecommendationStatus } from '../../api/intel'
import { dateTime, timeAgo } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { FormError, TextArea } from '../Field'
import { Panel } from '../Page'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'

const MAX_COMMENT = 5000

const statusTone: Record<RecommendationStatus, string> = {
  new: badgeTone.accent,
  approved: badgeTone.good,
  dismissed: badgeTone.neutral,
}

const FILTERS: { value: RecommendationStatus | 'any'; label: string }[] = [
  { value: 'new', label: 'New' },
  { value: 'approved', label: 'Approved' },
  { value: 'dismissed', label: 'Dismissed' },
  { value: 'any', label: 'All' },
]

/** What the digest of new feed items suggests: approve (a goal is created), dismiss, comment. */
export function RecommendationsPanel() {
  const [filter, setFilter] = useState<RecommendationStatus | 'any'>('new')
  const recommendations = useQuery(intelQueries.recommendations(filter === 'any' ? undefined : filter))
  // Approved this visit: an approved recommendation leaves the "New" list, so its goal's link stays up here.
  const [approved, setApproved] = useState<Recommendation[]>([])

  return (
    <Panel
      title={<span id="recommendations-title">Recommendations</span>}
      actions={
        <div className="flex flex-wrap items-center gap-2">
          <DigestNow />
          <label className="flex items-center gap-2 text-sm">
            <span className="text-muted">Show</span>
            <select
              value={filter}
              onChange={(event) => setFilter(event.target.value as typeof filter)}
              className="rounded-md border border-line-strong bg-panel px-2 py-1 text-sm text-fg focus:border-teal-500 focus:outline-none"
            >
              {FILTERS.map((option) => (
                <option key={option.value} value={option.value}>
                  {option.label}
                </option>
              ))}
            </select>
          </label>
        </div>
      }
    >
      <p className="mb-3 text-sm text-muted">
        New feed items, grouped by theme and ranked by relevance. Approving one makes it a goal for Nova to pursue.
      </p>
      {approved.length > 0 && (
        <ul className="mb-3 space-y-2" aria-label="Goals created">
          {approved.map((rec) => (
            <li
              key={rec.id}
              className="flex items-start justify-between gap-2 rounded-md border border-emerald-300 bg-emerald-50 px-3 py-2 text-sm text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100"
            >
              <span className="min-w-0 flex-1 break-words">
                Approved “{rec.title}”: it is a goal now.{' '}
                {rec.goal_id && (
                  <Link to={`/goals/${rec.goal_id}`} className="font-medium underline">
                    Open the goal
                  </Link>
                )}
              </span>
              <Button size="sm" variant="ghost" aria-label="Hide" onClick={() => setApproved((list) => list.filter((r) => r.id !== rec.id))}>
                <X className="h-3.5 w-3.5" aria-hidden />
              </Button>
            </li>
          ))}
        </ul>
      )}
      {recommendations.isPending && <Loading label="Loading recommendations…" />}
      {recommendations.isError && (
        <ErrorNotice title="Could not load the recommendations" error={recommendations.error} onRetry={() => void recommendations.refetch()} />
      )}
      {recommendations.isSuccess && recommendations.data.length === 0 && (
        <EmptyState title={filter === 'new' ? 'Nothing new to decide' : 'No recommendations here'}>
          Recommendations appear after intel-worker finds new items and the digest groups them.
        </EmptyState>
      )}
      {recommendations.isSuccess && recommendations.data.length > 0 && (
        <ul className="space-y-3" aria-labelledby="recommendations-title">
          {recommendations.data.map((rec) => (
            <li key={rec.id}>
              <RecommendationCard rec={rec} onApproved={(updated) => setApproved((list) => [updated, ...list.filter((r) => r.id !== updated.id)])} />
            </li>
          ))}
        </ul>
      )}
    </Panel>
  )
}

/** Digest the items waiting for one now: shown only while some wait (a digest the model could not do, say). */
function DigestNow() {
  const queryClient = useQueryClient()
  const stats = useQuery(intelQueries.stats())
  const waiting = stats.data?.undigested_items ?? 0
  const digest = useMutation({
    mutationFn: intelApi.digest,
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: intelQueries.all })
      if (result.error) toast.error(`The digest did not work: ${result.error}`)
      else {
        const made = result.recommendations.length
        toast.success(`${result.items_considered} items digested into ${made} ${made === 1 ? 'recommendation' : 'recommendations'}`)
      }
    },
  })
  if (waiting === 0) return null
  return (
    <Button size="sm" onClick={() => digest.mutate()} busy={digest.isPending}>
      <Sparkles className="h-3.5 w-3.5" aria-hidden />
      Digest {waiting} waiting {waiting === 1 ? 'item' : 'items'}
    </Button>
  )
}

function RecommendationCard({ rec, onApproved }: { rec: Recommendation; onApproved: (updated: Recommendation) => void }) {
  const queryClient = useQueryClient()
  const refresh = () => queryClient.invalidateQueries({ queryKey: intelQueries.all })
  const approve = useMutation({
    mutationFn: () => intelApi.approve(rec.id),
    onSuccess: (updated) => {
      toast.success(`Goal created: “${rec.title}”`)
      onApproved(updated)
      void refresh()
      void queryClient.invalidateQueries({ queryKey: goalQueries.all })
    },
  })
  const setStatus = useMutation({
    mutationFn: (status: 'new' | 'dismissed') => intelApi.setStatus(rec.id, status),
    onSuccess: (updated) => {
      toast.success(updated.status === 'dismissed' ? `Dismissed “${rec.title}”` : `“${rec.title}” is back among the new`)
      void refresh()
    },
  })
  const titleId = `rec-${rec.id}`
  const items = rec.item_ids.length

  return (
    <article aria-labelledby={titleId} className="rounded-md border border-line p-3">
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0 flex-1 basis-60">
          <h3 id={titleId} className="font-medium break-words">
            {rec.title}
          </h3>
          <p className="mt-1 flex flex-wrap items-center gap-2 text-xs text-muted">
            <Badge className={statusTone[rec.status]}>{rec.status}</Badge>
            <span>{rec.theme}</span>
            <span aria-label="Relevance">relevance {Math.round(rec.relevance * 100)}%</span>
            <span>
              from {items} {items === 1 ? 'item' : 'items'}
            </span>
            <span title={dateTime(rec.created_at)}>{timeAgo(rec.created_at)}</span>
          </p>
        </div>
        <div className="flex flex-wrap gap-1">
          {rec.status !== 'approved' && (
            <Button size="sm" variant="primary" onClick={() => approve.mutate()} busy={approve.isPending} aria-label={`Approve ${rec.title}`}>
              <Check className="h-3.5 w-3.5" aria-hidden />
              Approve
            </Button>
          )}
          {rec.status === 'new' && (
            <Button size="sm" onClick={() => setStatus.mutate('dismissed')} busy={setStatus.isPending} aria-label={`Dismiss ${rec.title}`}>
              <X className="h-3.5 w-3.5" aria-hidden />
              Dismiss
            </Button>
          )}
          {rec.status === 'dismissed' && (
            <Button size="sm" onClick={() => setStatus.mutate('new')} busy={setStatus.isPending} aria-label={`Restore ${rec.title}`}>
              <Undo2 className="h-3.5 w-3.5" aria-hidden />
              Restore
            </Button>
          )}
        </div>
      </div>
      {rec.summary && <p className="mt-2 text-sm break-words whitespace-pre-line">{rec.summary}</p>}
      {rec.goal_id && (
        <p className="mt-2 text-sm">
          <Link to={`/goals/${rec.goal_id}`} className="inline-flex items-center gap-1 font-medium text-accent-text hover:underline">
            <Target className="h-3.5 w-3.5" aria-hidden />
            Open the goal
          </Link>
        </p>
      )}
      <Comments rec={rec} />
    </article>
  )
}

function Comments({ rec }: { rec: Recommendation }) {
  const queryClient = useQueryClient()
  const [body, setBody] = useState('')
  const [error, setError] = useState<string | null>(null)
  const comments = rec.comments ?? []
  const add = useMutation({
    mutationFn: (text: string) => intelApi.comment(rec.id, text),
    meta: { errorToast: false },
    onSuccess: () => {
      setBody('')
      void queryClient.invalidateQueries({ queryKey: intelQueries.all })
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const text = body.trim()
    if (!text) setError('Write something first.')
    else if (text.length > MAX_COMMENT) setError(`At most ${MAX_COMMENT} characters.`)
    else {
      setError(null)
      add.mutate(text)
    }
  }

  return (
    <details className="mt-2 text-sm">
      <summary className="cursor-pointer text-xs text-muted hover:text-fg">
        {comments.length === 0 ? 'Comment' : `${comments.length} ${comments.length === 1 ? 'comment' : 'comments'}`}
      </summary>
      {comments.length > 0 && (
        <ul className="mt-2 space-y-2" aria-label={`Comments on ${rec.title}`}>
          {comments.map((comment) => (
            <li key={comment.id} className="rounded-md bg-sunken px-2 py-1">
              <p className="text-xs text-muted">
                {comment.author} · <span title={dateTime(comment.created_at)}>{timeAgo(comment.created_at)}</span>
              </p>
              <p className="break-words whitespace-pre-line">{comment.body}</p>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={submit} className="mt-2 space-y-2" noValidate>
        <TextArea label="Add a comment" rows={2} value={body} error={error} onChange={(event) => setBody(event.target.value)} />
        <FormError message={add.error ? errorMessage(add.error) : null} />
        <Button type="submit" size="sm" busy={add.isPending}>
          Add comment
        </Button>
      </form>
    </details>
  )
}
