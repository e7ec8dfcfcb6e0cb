import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Pause, Play, Plus, RefreshCw, Trash } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../../api/client'
import { intelApi, intelQueries, type Feed, type FeedCreate, type FeedType } from '../../api/intel'
import { count, dateTime, timeAgo } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { ConfirmDialog } from '../ConfirmDialog'
import { FormError, SelectField, TextField } from '../Field'
import { Modal } from '../Modal'
import { Panel } from '../Page'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'
import { detectFeedType, FEED_TYPE_LABELS, intervalText } from './feedTypes'

// The limits of nova_contracts.intel.FeedCreate, checked here so a typo is caught before sending.
const URL_PATTERN = /^https?:\/\/\S+$/
const MAX_URL = 2048
const MAX_NAME = 200
const MAX_CATEGORY = 50
const MIN_INTERVAL_MINUTES = 5
const MAX_INTERVAL_MINUTES = 7 * 24 * 60

/** A feed's state in one word: paused, failing (with backoff), waiting for its first check, or ok. */
export function feedHealth(feed: Feed): { label: string; tone: string } {
  if (!feed.enabled) return { label: 'paused', tone: badgeTone.neutral }
  if ((feed.error_count ?? 0) > 0) return { label: 'failing', tone: badgeTone.bad }
  if (!feed.last_checked_at) return { label: 'not checked yet', tone: badgeTone.neutral }
  return { label: 'ok', tone: badgeTone.good }
}

/** Feeds intel-worker watches: add (type detected from the URL), status with the last error, check now, pause. */
export function FeedsPanel() {
  const feeds = useQuery(intelQueries.feeds())
  const [adding, setAdding] = useState(false)
  const [removing, setRemoving] = useState<Feed | null>(null)

  return (
    <Panel
      title={<span id="feeds-title">Feeds</span>}
      actions={
        <Button variant="primary" size="sm" onClick={() => setAdding(true)}>
          <Plus className="h-3.5 w-3.5" aria-hidden />
          Add feed
        </Button>
      }
    >
      <p className="mb-3 text-sm text-muted">
        RSS and Atom feeds, Reddit listings, GitHub trending and releases, or any page watched for changes. New items are
        stored once, remembered, and digested into recommendations.
      </p>
      {feeds.isPending && <Loading label="Loading feeds…" />}
      {feeds.isError && <ErrorNotice title="Could not load the feeds" error={feeds.error} onRetry={() => void feeds.refetch()} />}
      {feeds.isSuccess && feeds.data.length === 0 && (
        <EmptyState title="No feeds yet">Add a blog's RSS feed, a subreddit or a GitHub releases page.</EmptyState>
      )}
      {feeds.isSuccess && feeds.data.length > 0 && (
        <ul className="space-y-3" aria-labelledby="feeds-title">
          {feeds.data.map((feed) => (
            <li key={feed.id}>
              <FeedCard feed={feed} onRemove={() => setRemoving(feed)} />
            </li>
          ))}
        </ul>
      )}
      {adding && <AddFeed onClose={() => setAdding(false)} />}
      {removing && <RemoveFeed feed={removing} onClose={() => setRemoving(null)} />}
    </Panel>
  )
}

function FeedCard({ feed, onRemove }: { feed: Feed; onRemove: () => void }) {
  const queryClient = useQueryClient()
  const refresh = () => queryClient.invalidateQueries({ queryKey: intelQueries.all })
  const check = useMutation({
    mutationFn: () => intelApi.checkFeed(feed.id),
    onSuccess: () => {
      toast.success(`“${feed.name}” will be checked on intel-worker's next poll`)
      void refresh()
    },
  })
  const toggle = useMutation({
    mutationFn: () => intelApi.updateFeed(feed.id, { enabled: !feed.enabled }),
    onSuccess: (updated) => {
      toast.success(updated.enabled ? `“${feed.name}” resumed` : `“${feed.name}” paused`)
      void refresh()
    },
  })
  const health = feedHealth(feed)
  const titleId = `feed-${feed.id}`

  return (
    <article aria-labelledby={titleId} className="rounded-md border border-line p-3">
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0 flex-1 basis-60">
          <h3 id={titleId} className="flex flex-wrap items-center gap-2 font-medium">
            <span className="break-words">{feed.name}</span>
            <Badge className={health.tone}>{health.label}</Badge>
          </h3>
          <p className="mt-0.5 font-mono text-xs break-all text-muted">{feed.url}</p>
        </div>
        <div className="flex flex-wrap gap-1">
          <Button size="sm" onClick={() => check.mutate()} busy={check.isPending} disabled={!feed.enabled} aria-label={`Check ${feed.name} now`}>
            <RefreshCw className="h-3.5 w-3.5" aria-hidden />
            Check now
          </Button>
          <Button size="sm" onClick={() => toggle.mutate()} busy={toggle.isPending} aria-label={`${feed.enabled ? 'Pause' : 'Resume'} ${feed.name}`}>
            {feed.enabled ? <Pause className="h-3.5 w-3.5" aria-hidden /> : <Play className="h-3.5 w-3.5" aria-hidden />}
            {feed.enabled ? 'Pause' : 'Resume'}
          </Button>
          <Button size="sm" variant="ghost" onClick={onRemove} aria-label={`Delete ${feed.name}`}>
            <Trash className="h-3.5 w-3.5" aria-hidden />
          </Button>
        </div>
      </div>
      <dl className="mt-2 flex flex-wrap gap-x-5 gap-y-1 text-xs text-muted">
        <div className="flex gap-1">
          <dt>Type</dt>
          <dd className="text-fg">{FEED_TYPE_LABELS[feed.type]}</dd>
        </div>
        <div className="flex gap-1">
          <dt>Category</dt>
          <dd className="text-fg">{feed.category}</dd>
        </div>
        <div className="flex gap-1">
          <dt>Every</dt>
          <dd className="text-fg">{intervalText(feed.check_interval_seconds)}</dd>
        </div>
        <div className="flex gap-1">
          <dt>Last check</dt>
          <dd className="text-fg" title={dateTime(feed.last_checked_at)}>
            {timeAgo(feed.last_checked_at)}
          </dd>
        </div>
        {feed.enabled && (
          <div className="flex gap-1">
            <dt>Next</dt>
            <dd className="text-fg" title={dateTime(feed.next_check_at)}>
              {feed.next_check_at ? timeAgo(feed.next_check_at) : 'on the next poll'}
            </dd>
          </div>
        )}
        <div className="flex gap-1">
          <dt>Items</dt>
          <dd className="text-fg tabular-nums">{count(feed.items_total ?? 0)}</dd>
        </div>
      </dl>
      {(feed.error_count ?? 0) > 0 && (
        <p className="mt-2 rounded-md bg-rose-50 px-2 py-1 text-xs break-words text-rose-800 dark:bg-rose-950 dark:text-rose-200">
          <span className="font-medium">
            {feed.error_count} failed {feed.error_count === 1 ? 'check' : 'checks'} in a row (checks back off):
          </span>{' '}
          {feed.last_error ?? 'no error recorded'}
        </p>
      )}
    </article>
  )
}

function AddFeed({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient()
  const [url, setUrl] = useState('')
  const [type, setType] = useState<FeedType | ''>('')
  const [name, setName] = useState('')
  const [category, setCategory] = useState('')
  const [minutes, setMinutes] = useState('60')
  const [errors, setErrors] = useState<{ url?: string; name?: string; category?: string; minutes?: string }>({})
  const detected = detectFeedType(url.trim())

  const create = useMutation({
    mutationFn: intelApi.createFeed,
    meta: { errorToast: false },
    onSuccess: (feed) => {
      toast.success(`Watching “${feed.name}” as ${FEED_TYPE_LABELS[feed.type]}`)
      void queryClient.invalidateQueries({ queryKey: intelQueries.all })
      onClose()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: typeof errors = {}
    const trimmedUrl = url.trim()
    const interval = Number(minutes)
    if (!URL_PATTERN.test(trimmedUrl) || trimmedUrl.length < 8) next.url = 'An http:// or https:// address, without spaces.'
    else if (trimmedUrl.length > MAX_URL) next.url = `At most ${count(MAX_URL)} characters.`
    if (name.trim().length > MAX_NAME) next.name = `At most ${MAX_NAME} characters.`
    if (category.trim().length > MAX_CATEGORY) next.category = `At most ${MAX_CATEGORY} characters.`
    if (!Number.isInteger(interval) || interval < MIN_INTERVAL_MINUTES || interval > MAX_INTERVAL_MINUTES) {
      next.minutes = `A whole number of minutes from ${MIN_INTERVAL_MINUTES} to ${count(MAX_INTERVAL_MINUTES)} (a week).`
    }
    setErrors(next)
    if (Object.keys(next).length > 0) return
    const body: FeedCreate = { url: trimmedUrl, check_interval_seconds: interval * 60, enabled: true }
    if (type) body.type = type
    if (name.trim()) body.name = name.trim()
    if (category.trim()) body.category = category.trim()
    create.mutate(body)
  }

  return (
    <Modal title="Add feed" onClose={onClose}>
      <form onSubmit={submit} className="space-y-4" noValidate>
        <TextField
          label="URL"
          type="url"
          value={url}
          error={errors.url}
          placeholder="https://huggingface.co/blog/feed.xml"
          autoFocus
          onChange={(event) => setUrl(event.target.value)}
        />
        <SelectField
          label="Type"
          value={type}
          hint={type === '' && detected ? <span data-testid="detected-feed-type">Detected: {FEED_TYPE_LABELS[detected]}</span> : undefined}
          onChange={(event) => setType(event.target.value as FeedType | '')}
        >
          <option value="">Detect from the URL</option>
          {(Object.keys(FEED_TYPE_LABELS) as FeedType[]).map((value) => (
            <option key={value} value={value}>
              {FEED_TYPE_LABELS[value]}
            </option>
          ))}
        </SelectField>
        <div className="grid gap-4 sm:grid-cols-2">
          <TextField
            label="Name (optional)"
            value={name}
            error={errors.name}
            placeholder="from the URL"
            onChange={(event) => setName(event.target.value)}
          />
          <TextField
            label="Category (optional)"
            value={category}
            error={errors.category}
            placeholder="from the URL"
            onChange={(event) => setCategory(event.target.value)}
          />
        </div>
        <TextField
          label="Check every (minutes)"
          type="number"
          inputMode="numeric"
          min={MIN_INTERVAL_MINUTES}
          max={MAX_INTERVAL_MINUTES}
          value={minutes}
          error={errors.minutes}
          hint="A failing feed is checked less often (the interval doubles per error, up to a day)."
          onChange={(event) => setMinutes(event.target.value)}
        />
        <FormError message={create.error ? errorMessage(create.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={create.isPending}>
            Add feed
          </Button>
        </div>
      </form>
    </Modal>
  )
}

function RemoveFeed({ feed, onClose }: { feed: Feed; onClose: () => void }) {
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: () => intelApi.deleteFeed(feed.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(`Stopped watching “${feed.name}”`)
      void queryClient.invalidateQueries({ queryKey: intelQueries.all })
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title={`Delete the feed “${feed.name}”?`}
      confirmLabel="Delete feed"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      busy={remove.isPending}
      error={remove.error ? errorMessage(remove.error) : null}
    >
      Nova stops watching <span className="font-mono break-all">{feed.url}</span>. The items it brought stay.
    </ConfirmDialog>
  )
}
