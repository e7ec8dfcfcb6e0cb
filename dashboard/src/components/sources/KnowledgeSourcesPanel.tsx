import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Pause, Play, Plus, RefreshCw, Trash } from 'lucide-react'
import { useEffect, useRef, useState, type FormEvent } from 'react'

import { errorMessage } from '../../api/client'
import {
  isCrawlActive,
  knowledgeApi,
  knowledgeQueries,
  type KnowledgeSource,
  type KnowledgeSourceCreate,
  type KnowledgeSourceKind,
} from '../../api/knowledge'
import { count, dateTime, timeAgo } from '../../format'
import { toast } from '../../toast'
import { Button } from '../Button'
import { ConfirmDialog } from '../ConfirmDialog'
import { FormError, SelectField, TextArea, TextField } from '../Field'
import { Modal } from '../Modal'
import { Panel } from '../Page'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'
import { CrawlHistory, LiveCrawl } from './CrawlViews'
import { intervalText } from './feedTypes'

// The limits of nova_contracts.knowledge.KnowledgeSourceCreate and CrawlSettings, checked before sending.
const URL_PATTERN = /^https?:\/\/\S+$/
const HOST_PATTERN = /^[A-Za-z0-9.-]+(:\d{1,5})?$/
const MAX_NAME = 200
const MAX_TEXT = 200_000
const MAX_HOSTS = 20
const MAX_PAGES = 1000
const MAX_DEPTH = 10
const MIN_REFRESH_HOURS = 1
const MAX_REFRESH_HOURS = 90 * 24

export const KIND_LABELS: Record<KnowledgeSourceKind, string> = {
  site: 'Website',
  github: 'GitHub account',
  text: 'Pasted text',
}

const statusTone: Record<KnowledgeSource['status'], string> = {
  idle: badgeTone.neutral,
  queued: badgeTone.accent,
  crawling: badgeTone.warn,
  error: badgeTone.bad,
}

/** Sites, GitHub accounts and pasted text knowledge-worker reads into memory: add, crawl now, watch, history. */
export function KnowledgeSourcesPanel() {
  const sources = useQuery(knowledgeQueries.sources())
  const [adding, setAdding] = useState(false)
  const [removing, setRemoving] = useState<KnowledgeSource | null>(null)

  return (
    <Panel
      title={<span id="knowledge-title">Knowledge sources</span>}
      actions={
        <Button variant="primary" size="sm" onClick={() => setAdding(true)}>
          <Plus className="h-3.5 w-3.5" aria-hidden />
          Add source
        </Button>
      }
    >
      <p className="mb-3 text-sm text-muted">
        Sites crawled within their hosts (robots.txt obeyed, one request a second per host), GitHub profiles and their
        repositories, or text you paste. What is read lands in memory and is refreshed when it changes.
      </p>
      {sources.isPending && <Loading label="Loading knowledge sources…" />}
      {sources.isError && <ErrorNotice title="Could not load the knowledge sources" error={sources.error} onRetry={() => void sources.refetch()} />}
      {sources.isSuccess && sources.data.length === 0 && (
        <EmptyState title="No knowledge sources yet">Add your blog, your documentation or your GitHub account.</EmptyState>
      )}
      {sources.isSuccess && sources.data.length > 0 && (
        <ul className="space-y-3" aria-labelledby="knowledge-title">
          {sources.data.map((source) => (
            <li key={source.id}>
              <SourceCard source={source} onRemove={() => setRemoving(source)} />
            </li>
          ))}
        </ul>
      )}
      {adding && <AddSource onClose={() => setAdding(false)} />}
      {removing && <RemoveSource source={removing} onClose={() => setRemoving(null)} />}
    </Panel>
  )
}

function SourceCard({ source, onRemove }: { source: KnowledgeSource; onRemove: () => void }) {
  const queryClient = useQueryClient()
  const [historyOpen, setHistoryOpen] = useState(false)
  const refresh = () => queryClient.invalidateQueries({ queryKey: knowledgeQueries.all })
  const crawl = useMutation({
    mutationFn: () => knowledgeApi.crawlNow(source.id),
    onSuccess: () => {
      toast.success(`“${source.name}” is queued for a crawl`)
      void refresh()
    },
  })
  const toggle = useMutation({
    mutationFn: () => knowledgeApi.updateSource(source.id, { enabled: !source.enabled }),
    onSuccess: (updated) => {
      toast.success(updated.enabled ? `“${source.name}” resumed` : `“${source.name}” paused`)
      void refresh()
    },
  })
  const active = isCrawlActive(source)
  const titleId = `source-${source.id}`
  // The crawl just ended: its record in the cache still says running, so the history would show it so.
  const wasActive = useRef(active)
  useEffect(() => {
    if (wasActive.current && !active) {
      void queryClient.invalidateQueries({ queryKey: knowledgeQueries.crawls(source.id, false).queryKey })
    }
    wasActive.current = active
  }, [active, queryClient, source.id])

  return (
    <article aria-labelledby={titleId} className="rounded-md border border-line p-3">
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0 flex-1 basis-60">
          <h3 id={titleId} className="flex flex-wrap items-center gap-2 font-medium">
            <span className="break-words">{source.name}</span>
            <Badge className={statusTone[source.status]}>{source.status}</Badge>
            {!source.enabled && <Badge className={badgeTone.neutral}>paused</Badge>}
          </h3>
          <p className="mt-0.5 text-xs break-all text-muted">
            {KIND_LABELS[source.kind]}
            {source.url ? <span className="font-mono"> · {source.url}</span> : ` · ${count(source.text?.length ?? 0)} characters`}
          </p>
        </div>
        <div className="flex flex-wrap gap-1">
          <Button
            size="sm"
            onClick={() => crawl.mutate()}
            busy={crawl.isPending}
            disabled={active || !source.enabled}
            aria-label={`Crawl ${source.name} now`}
          >
            <RefreshCw className="h-3.5 w-3.5" aria-hidden />
            Crawl now
          </Button>
          <Button size="sm" onClick={() => toggle.mutate()} busy={toggle.isPending} aria-label={`${source.enabled ? 'Pause' : 'Resume'} ${source.name}`}>
            {source.enabled ? <Pause className="h-3.5 w-3.5" aria-hidden /> : <Play className="h-3.5 w-3.5" aria-hidden />}
            {source.enabled ? 'Pause' : 'Resume'}
          </Button>
          <Button size="sm" variant="ghost" onClick={onRemove} aria-label={`Delete ${source.name}`}>
            <Trash className="h-3.5 w-3.5" aria-hidden />
          </Button>
        </div>
      </div>
      <dl className="mt-2 flex flex-wrap gap-x-5 gap-y-1 text-xs text-muted">
        <div className="flex gap-1">
          <dt>Last crawl</dt>
          <dd className="text-fg" title={dateTime(source.last_crawl_at)}>
            {timeAgo(source.last_crawl_at)}
          </dd>
        </div>
        {source.kind !== 'text' && (
          <>
            <div className="flex gap-1">
              <dt>Limits</dt>
              <dd className="text-fg">
                {count(source.crawl.max_pages)} pages, depth {source.crawl.max_depth}
              </dd>
            </div>
            <div className="flex gap-1">
              <dt>Hosts</dt>
              <dd className="text-fg break-all">{(source.crawl.allowed_hosts ?? []).join(', ') || 'its own'}</dd>
            </div>
          </>
        )}
        <div className="flex gap-1">
          <dt>Refresh</dt>
          <dd className="text-fg">every {intervalText(source.crawl.refresh_interval_seconds)}</dd>
        </div>
      </dl>
      {source.last_error && (
        <p className="mt-2 rounded-md bg-rose-50 px-2 py-1 text-xs break-words text-rose-800 dark:bg-rose-950 dark:text-rose-200">
          <span className="font-medium">Last error{source.error_count > 1 ? ` (${source.error_count} in a row)` : ''}:</span> {source.last_error}
        </p>
      )}
      {active && <LiveCrawl source={source} />}
      <details className="mt-2" onToggle={(event) => setHistoryOpen(event.currentTarget.open)}>
        <summary className="cursor-pointer text-xs text-muted hover:text-fg">Crawl history</summary>
        {historyOpen && <CrawlHistory source={source} />}
      </details>
    </article>
  )
}

interface SourceErrors {
  name?: string
  url?: string
  text?: string
  maxPages?: string
  maxDepth?: string
  hosts?: string
  refresh?: string
}

function AddSource({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient()
  const credentials = useQuery(knowledgeQueries.credentials())
  const [kind, setKind] = useState<KnowledgeSourceKind>('site')
  const [name, setName] = useState('')
  const [url, setUrl] = useState('')
  const [text, setText] = useState('')
  const [credentialId, setCredentialId] = useState('')
  const [maxPages, setMaxPages] = useState('50')
  const [maxDepth, setMaxDepth] = useState('3')
  const [hosts, setHosts] = useState('')
  const [refreshHours, setRefreshHours] = useState('24')
  const [errors, setErrors] = useState<SourceErrors>({})

  const create = useMutation({
    mutationFn: knowledgeApi.createSource,
    meta: { errorToast: false },
    onSuccess: (source) => {
      toast.success(`“${source.name}” added; its first crawl is queued`)
      void queryClient.invalidateQueries({ queryKey: knowledgeQueries.all })
      onClose()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: SourceErrors = {}
    const trimmedName = name.trim()
    const trimmedUrl = url.trim()
    const hostList = hosts.split(/[\s,]+/).filter(Boolean)
    const pages = Number(maxPages)
    const depth = Number(maxDepth)
    const hours = Number(refreshHours)
    if (!trimmedName) next.name = 'Give the source a name.'
    else if (trimmedName.length > MAX_NAME) next.name = `At most ${MAX_NAME} characters.`
    if (kind === 'text') {
      if (!text.trim()) next.text = 'Paste the text Nova should learn.'
      else if (text.length > MAX_TEXT) next.text = `At most ${count(MAX_TEXT)} characters.`
    } else if (!URL_PATTERN.test(trimmedUrl) || trimmedUrl.length < 8) {
      next.url = kind === 'github' ? 'The account’s address, e.g. https://github.com/octocat.' : 'An http:// or https:// address, without spaces.'
    }
    if (kind !== 'text') {
      if (!Number.isInteger(pages) || pages < 1 || pages > MAX_PAGES) next.maxPages = `A whole number from 1 to ${count(MAX_PAGES)}.`
      if (!Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH) next.maxDepth = `A whole number from 0 to ${MAX_DEPTH}.`
      const bad = hostList.find((host) => !HOST_PATTERN.test(host))
      if (bad) next.hosts = `“${bad}” is not a host name (no scheme or path: docs.example.com).`
      else if (hostList.length > MAX_HOSTS) next.hosts = `At most ${MAX_HOSTS} hosts.`
    }
    if (!Number.isInteger(hours) || hours < MIN_REFRESH_HOURS || hours > MAX_REFRESH_HOURS) {
      next.refresh = `A whole number of hours from ${MIN_REFRESH_HOURS} to ${count(MAX_REFRESH_HOURS)} (90 days).`
    }
    setErrors(next)
    if (Object.keys(next).length > 0) return
    const body: KnowledgeSourceCreate = {
      name: trimmedName,
      kind,
      crawl: {
        max_pages: kind === 'text' ? 50 : pages,
        max_depth: kind === 'text' ? 3 : depth,
        allowed_hosts: kind === 'text' ? [] : hostList,
        refresh_interval_seconds: hours * 3600,
      },
    }
    if (kind === 'text') body.text = text
    else body.url = trimmedUrl
    if (kind === 'github' && credentialId) body.credential_id = credentialId
    create.mutate(body)
  }

  return (
    <Modal title="Add knowledge source" onClose={onClose} size="lg">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <div className="grid gap-4 sm:grid-cols-2">
          <TextField label="Name" value={name} error={errors.name} autoFocus placeholder="Project docs" onChange={(event) => setName(event.target.value)} />
          <SelectField label="Kind" value={kind} onChange={(event) => setKind(event.target.value as KnowledgeSourceKind)}>
            {(Object.keys(KIND_LABELS) as KnowledgeSourceKind[]).map((value) => (
              <option key={value} value={value}>
                {KIND_LABELS[value]}
              </option>
            ))}
          </SelectField>
        </div>
        {kind === 'text' ? (
          <TextArea label="Text" rows={8} value={text} error={errors.text} onChange={(event) => setText(event.target.value)} />
        ) : (
          <TextField
            label={kind === 'github' ? 'GitHub account URL' : 'Start page URL'}
            type="url"
            value={url}
            error={errors.url}
            placeholder={kind === 'github' ? 'https://github.com/octocat' : 'https://docs.example.com/'}
            onChange={(event) => setUrl(event.target.value)}
          />
        )}
        {kind === 'github' && (
          <SelectField
            label="Token"
            value={credentialId}
            hint="Optional: a stored GitHub token raises the API's rate limit and reaches private repositories."
            onChange={(event) => setCredentialId(event.target.value)}
          >
            <option value="">None (public API)</option>
            {(credentials.data ?? [])
              .filter((credential) => credential.platform === 'github')
              .map((credential) => (
                <option key={credential.id} value={credential.id}>
                  {credential.name} ({credential.masked})
                </option>
              ))}
          </SelectField>
        )}
        {kind !== 'text' && (
          <>
            <div className="grid gap-4 sm:grid-cols-2">
              <TextField
                label="Max pages"
                type="number"
                inputMode="numeric"
                min={1}
                max={MAX_PAGES}
                value={maxPages}
                error={errors.maxPages}
                onChange={(event) => setMaxPages(event.target.value)}
              />
              <TextField
                label="Max depth"
                type="number"
                inputMode="numeric"
                min={0}
                max={MAX_DEPTH}
                value={maxDepth}
                error={errors.maxDepth}
                hint="Links followed from the start page; 0 reads only the start page."
                onChange={(event) => setMaxDepth(event.target.value)}
              />
            </div>
            {kind === 'site' && (
              <TextField
                label="Allowed hosts (optional)"
                value={hosts}
                error={errors.hosts}
                placeholder="docs.example.com, blog.example.com"
                hint="Empty: only the start page's own host."
                onChange={(event) => setHosts(event.target.value)}
              />
            )}
          </>
        )}
        <TextField
          label="Refresh every (hours)"
          type="number"
          inputMode="numeric"
          min={MIN_REFRESH_HOURS}
          max={MAX_REFRESH_HOURS}
          value={refreshHours}
          error={errors.refresh}
          hint="A refresh re-reads only what changed."
          onChange={(event) => setRefreshHours(event.target.value)}
        />
        <FormError message={create.error ? errorMessage(create.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={create.isPending}>
            Add source
          </Button>
        </div>
      </form>
    </Modal>
  )
}

function RemoveSource({ source, onClose }: { source: KnowledgeSource; onClose: () => void }) {
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: () => knowledgeApi.deleteSource(source.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(`Removed “${source.name}”`)
      void queryClient.invalidateQueries({ queryKey: knowledgeQueries.all })
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title={`Remove “${source.name}”?`}
      confirmLabel="Remove source"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      busy={remove.isPending}
      error={remove.error ? errorMessage(remove.error) : null}
    >
      Its crawl history goes with it; what memory learned from it stays.
    </ConfirmDialog>
  )
}
