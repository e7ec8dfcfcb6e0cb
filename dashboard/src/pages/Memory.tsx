import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { ChevronLeft, ChevronRight, Eye, Pencil, Search, Trash, X } from 'lucide-react'
import { useState, type FormEvent, type KeyboardEvent } from 'react'
import { Link, useSearchParams } from 'react-router'

import { errorMessage } from '../api/client'
import {
  FUSION_METHODS,
  MEMORY_TIERS,
  memoryApi,
  memoryQueries,
  type FusionMethod,
  type Memory,
  type MemorySearchHit,
  type MemorySort,
  type MemoryTier,
  type MemoryUpdate,
} from '../api/memory'
import { Button } from '../components/Button'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { FormError, SelectField, TextArea, TextField } from '../components/Field'
import { Modal } from '../components/Modal'
import { Page, PageHeader } from '../components/Page'
import { ConsolidationPanel } from '../components/memory/ConsolidationPanel'
import { ContradictionsPanel } from '../components/memory/ContradictionsPanel'
import { IngestionPanel } from '../components/memory/IngestionPanel'
import { ProfilePanel } from '../components/memory/ProfilePanel'
import { SourceLabel, sourceHref } from '../components/memory/SourceLabel'
import { SourcesPanel } from '../components/memory/SourcesPanel'
import { StatsPanel } from '../components/memory/StatsPanel'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { count, dateTime, score, timeAgo } from '../format'
import { toast } from '../toast'

const PAGE_SIZE = 25
const SEARCH_LIMIT = 25
const SORTS: { value: MemorySort; label: string }[] = [
  { value: 'created_at', label: 'Newest' },
  { value: 'updated_at', label: 'Recently updated' },
  { value: 'last_accessed_at', label: 'Recently used' },
  { value: 'access_count', label: 'Most used' },
  { value: 'confidence', label: 'Most confident' },
]
const MAX_CONTENT = 50_000

const VIEWS = [
  { id: 'memories', label: 'Memories' },
  { id: 'profile', label: 'Profile' },
  { id: 'sources', label: 'Sources' },
  { id: 'consolidation', label: 'Consolidation' },
  { id: 'ingestion', label: 'Ingestion' },
  { id: 'contradictions', label: 'Contradictions' },
  { id: 'stats', label: 'Stats' },
] as const
type View = (typeof VIEWS)[number]['id']

/**
 * Memory: the inspector (browse, search, edit) and how memories form: what Nova believes about its user,
 * where memories came from, consolidation, the ingestion queue, contradictions and statistics.
 */
export function Component() {
  // The tab and its filters live in the URL, so a reload, the back button or a link (chat's "from …") lands on them.
  const [params, setParams] = useSearchParams()
  const requested = params.get('view')
  const view: View = VIEWS.some((v) => v.id === requested) ? (requested as View) : 'memories'

  function show(next: View) {
    setParams(next === 'memories' ? {} : { view: next }, { replace: true })
  }

  return (
    <Page>
      <PageHeader title="Memory" description="What Nova remembers, in four tiers, and where it came from." />
      <ViewTabs value={view} onChange={show} />
      <div role="tabpanel" id={`memory-panel-${view}`} aria-labelledby={`memory-tab-${view}`} className="mt-4">
        {view === 'memories' && <MemoriesView />}
        {view === 'profile' && <ProfilePanel />}
        {view === 'sources' && (
          <SourcesPanel
            openId={params.get('source')}
            onOpen={(id) => setParams(id ? { view: 'sources', source: id } : { view: 'sources' }, { replace: !id })}
          />
        )}
        {view === 'consolidation' && <ConsolidationPanel />}
        {view === 'ingestion' && <IngestionPanel />}
        {view === 'contradictions' && <ContradictionsPanel />}
        {view === 'stats' && <StatsPanel />}
      </div>
    </Page>
  )
}

/** Tabs with the arrow keys moving between them, as a tab list should. */
function ViewTabs({ value, onChange }: { value: View; onChange: (view: View) => void }) {
  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0
    if (!step) return
    event.preventDefault()
    const index = VIEWS.findIndex((v) => v.id === value)
    const next = VIEWS[(index + step + VIEWS.length) % VIEWS.length]!
    onChange(next.id)
    document.getElementById(`memory-tab-${next.id}`)?.focus()
  }
  return (
    <div role="tablist" aria-label="Memory views" className="flex flex-wrap gap-1 border-b border-line" onKeyDown={onKeyDown}>
      {VIEWS.map((tab) => {
        const selected = tab.id === value
        return (
          <button
            key={tab.id}
            type="button"
            role="tab"
            id={`memory-tab-${tab.id}`}
            aria-selected={selected}
            aria-controls={`memory-panel-${tab.id}`}
            tabIndex={selected ? 0 : -1}
            onClick={() => onChange(tab.id)}
            className={`-mb-px border-b-2 px-3 py-2 text-sm ${
              selected ? 'border-accent font-medium text-accent-text' : 'border-transparent text-muted hover:text-fg'
            }`}
          >
            {tab.label}
          </button>
        )
      })}
    </div>
  )
}

/** The memory inspector: browse by tier, hybrid search with scores, view, edit, delete. */
function MemoriesView() {
  // Filters live in the URL so a reload or the back button returns to the same page of results.
  const [params, setParams] = useSearchParams()
  const tier = (params.get('tier') as MemoryTier | null) ?? undefined
  const sort = (params.get('sort') as MemorySort | null) ?? 'created_at'
  const offset = Number(params.get('offset') ?? 0) || 0
  const query = params.get('q') ?? ''
  const fusion = (params.get('fusion') as FusionMethod | null) ?? undefined

  const [viewing, setViewing] = useState<Memory | null>(null)
  const [editing, setEditing] = useState<Memory | null>(null)
  const [deleting, setDeleting] = useState<Memory | null>(null)

  function update(changes: Record<string, string | null>) {
    const next = new URLSearchParams(params)
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === '') next.delete(key)
      else next.set(key, value)
    }
    setParams(next, { replace: true })
  }

  const actions = { onView: setViewing, onEdit: setEditing, onDelete: setDeleting }

  return (
    <>
      <SearchForm
        key={query}
        initialQuery={query}
        fusion={fusion}
        onSearch={(q, f) => update({ q, fusion: f ?? null })}
        onClear={() => update({ q: null, fusion: null })}
      />
      <div className="mt-4 mb-4 flex flex-wrap items-end justify-between gap-3">
        <TierFilter value={tier} onChange={(next) => update({ tier: next ?? null, offset: null })} />
        {!query && (
          <SelectField
            label="Sort by"
            className="w-48"
            value={sort}
            onChange={(event) => update({ sort: event.target.value, offset: null })}
          >
            {SORTS.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </SelectField>
        )}
      </div>
      {query ? (
        <SearchResults query={query} tier={tier} fusion={fusion} {...actions} />
      ) : (
        <BrowseList tier={tier} sort={sort} offset={offset} onPage={(next) => update({ offset: String(next) })} {...actions} />
      )}
      {viewing && <MemoryDetail memory={viewing} onClose={() => setViewing(null)} />}
      {editing && <EditMemory memory={editing} onClose={() => setEditing(null)} />}
      {deleting && <DeleteMemory memory={deleting} onClose={() => setDeleting(null)} />}
    </>
  )
}

interface RowActions {
  onView: (memory: Memory) => void
  onEdit: (memory: Memory) => void
  onDelete: (memory: Memory) => void
}

function SearchForm({
  initialQuery,
  fusion,
  onSearch,
  onClear,
}: {
  initialQuery: string
  fusion: FusionMethod | undefined
  onSearch: (query: string, fusion: FusionMethod | undefined) => void
  onClear: () => void
}) {
  const [text, setText] = useState(initialQuery)
  const [method, setMethod] = useState<FusionMethod | ''>(fusion ?? '')
  const [error, setError] = useState<string | null>(null)

  function submit(event: FormEvent) {
    event.preventDefault()
    const trimmed = text.trim()
    if (!trimmed) {
      setError('Type what to search for.')
      return
    }
    onSearch(trimmed, method || undefined)
  }

  return (
    <form role="search" onSubmit={submit} className="flex flex-wrap items-end gap-2" noValidate>
      <TextField
        label="Search memories"
        className="min-w-0 flex-1 basis-64"
        type="search"
        placeholder="e.g. how the auth module hashes passwords"
        value={text}
        error={error}
        maxLength={10_000}
        onChange={(event) => {
          setText(event.target.value)
          setError(null)
        }}
      />
      <SelectField label="Ranking" className="w-40" value={method} onChange={(event) => setMethod(event.target.value as FusionMethod | '')}>
        <option value="">Service default</option>
        {FUSION_METHODS.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </SelectField>
      <Button type="submit" variant="primary" className={error ? 'mb-5' : ''}>
        <Search className="h-4 w-4" aria-hidden />
        Search
      </Button>
      {initialQuery && (
        <Button onClick={onClear} className={error ? 'mb-5' : ''}>
          <X className="h-4 w-4" aria-hidden />
          Clear search
        </Button>
      )}
    </form>
  )
}

function TierFilter({ value, onChange }: { value: MemoryTier | undefined; onChange: (tier: MemoryTier | undefined) => void }) {
  const options: { value: MemoryTier | undefined; label: string }[] = [
    { value: undefined, label: 'All tiers' },
    ...MEMORY_TIERS.map((tier) => ({ value: tier, label: tier })),
  ]
  return (
    <fieldset>
      <legend className="mb-1 text-sm font-medium">Tier</legend>
      <div className="flex flex-wrap gap-1 rounded-lg border border-line bg-panel p-1">
        {options.map((option) => (
          <label
            key={option.label}
            className={`cursor-pointer rounded-md px-2.5 py-1 text-sm capitalize has-focus-visible:outline-2 has-focus-visible:outline-teal-500 ${
              value === option.value ? 'bg-accent-soft font-medium text-accent-text' : 'text-muted hover:bg-sunken'
            }`}
          >
            <input
              type="radio"
              name="tier"
              className="sr-only"
              checked={value === option.value}
              onChange={() => onChange(option.value)}
            />
            {option.label}
          </label>
        ))}
      </div>
    </fieldset>
  )
}

function BrowseList({
  tier,
  sort,
  offset,
  onPage,
  ...actions
}: { tier: MemoryTier | undefined; sort: MemorySort; offset: number; onPage: (offset: number) => void } & RowActions) {
  const page = useQuery(memoryQueries.browse({ tier, sort, order: 'desc', offset, limit: PAGE_SIZE }))

  if (page.isPending) return <Loading label="Loading memories…" />
  if (page.isError) return <ErrorNotice title="Could not load memories" error={page.error} onRetry={() => void page.refetch()} />

  const items = page.data.items ?? []
  if (items.length === 0) {
    return (
      <EmptyState title={tier ? `No ${tier} memories` : 'No memories yet'}>
        Nova stores memories as it chats and works; they will appear here.
      </EmptyState>
    )
  }
  const first = page.data.offset + 1
  const last = page.data.offset + items.length
  return (
    <div className={page.isPlaceholderData ? 'opacity-60' : undefined}>
      <ul className="space-y-2" aria-label="Memories">
        {items.map((memory) => (
          <li key={memory.id}>
            <MemoryCard memory={memory} {...actions} />
          </li>
        ))}
      </ul>
      <nav aria-label="Pages" className="mt-4 flex flex-wrap items-center justify-between gap-2 text-sm">
        <p className="text-muted">
          {count(first)}–{count(last)} of {count(page.data.total)}
        </p>
        <div className="flex gap-2">
          <Button size="sm" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - PAGE_SIZE))}>
            <ChevronLeft className="h-4 w-4" aria-hidden />
            Previous
          </Button>
          <Button size="sm" disabled={last >= page.data.total} onClick={() => onPage(offset + PAGE_SIZE)}>
            Next
            <ChevronRight className="h-4 w-4" aria-hidden />
          </Button>
        </div>
      </nav>
    </div>
  )
}

function SearchResults({
  query,
  tier,
  fusion,
  ...actions
}: { query: string; tier: MemoryTier | undefined; fusion: FusionMethod | undefined } & RowActions) {
  const result = useQuery(
    memoryQueries.search({ query, tiers: tier ? [tier] : null, fusion: fusion ?? null, limit: SEARCH_LIMIT }),
  )

  if (result.isPending) return <Loading label="Searching…" />
  if (result.isError) return <ErrorNotice title="Search failed" error={result.error} onRetry={() => void result.refetch()} />

  const hits = result.data.hits ?? []
  return (
    <div className={result.isPlaceholderData ? 'opacity-60' : undefined}>
      <p className="mb-3 text-sm text-muted" role="status">
        {hits.length} {hits.length === 1 ? 'match' : 'matches'} · ranked by {result.data.fusion} · {Math.round(result.data.took_ms)} ms
        {result.data.embedding_model && <> · {result.data.embedding_model}</>}
      </p>
      {result.data.keyword_only_fallback && (
        <p className="mb-3 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-100">
          Embeddings were unavailable, so these results come from keyword search alone.
        </p>
      )}
      {hits.length === 0 ? (
        <EmptyState title="Nothing matched">Try other words, or search every tier.</EmptyState>
      ) : (
        <ol className="space-y-2" aria-label="Search results">
          {hits.map((hit) => (
            <li key={hit.memory.id}>
              <MemoryCard memory={hit.memory} hit={hit} {...actions} />
            </li>
          ))}
        </ol>
      )}
    </div>
  )
}

function MemoryCard({ memory, hit, onView, onEdit, onDelete }: { memory: Memory; hit?: MemorySearchHit } & RowActions) {
  return (
    <article className="rounded-lg border border-line bg-panel p-3">
      <div className="mb-1.5 flex flex-wrap items-center gap-2 text-xs text-muted">
        {hit && <span className="font-mono font-semibold text-fg">#{hit.rank}</span>}
        <Badge className={badgeTone.accent}>{memory.tier}</Badge>
        <span>confidence {score(memory.effective_confidence ?? memory.confidence)}</span>
        <span>· {timeAgo(memory.created_at)}</span>
        {!memory.embedded && <Badge className={badgeTone.warn}>not embedded yet</Badge>}
      </div>
      <p className="line-clamp-3 text-sm break-words whitespace-pre-wrap">{memory.content}</p>
      {hit && (
        <dl className="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs" aria-label="Scores">
          <Score label="score" value={hit.score} strong />
          <Score label="vector" value={hit.vector_score} />
          <Score label="keyword" value={hit.keyword_score} />
        </dl>
      )}
      <div className="mt-2 flex flex-wrap items-center justify-between gap-2">
        <p className="text-xs text-muted">
          {[memory.project_id, memory.category, memory.key].filter(Boolean).join(' / ')}
          {memory.source_id && (
            <Link to={sourceHref(memory.source_id)} className="ml-2 text-accent-text hover:underline" aria-label={`Source of memory ${memory.id}`}>
              {memory.source ? `from ${memory.source.kind}` : 'source'}
            </Link>
          )}
        </p>
        <div className="flex gap-1">
          <Button size="sm" variant="ghost" onClick={() => onView(memory)} aria-label={`View memory ${memory.id}`}>
            <Eye className="h-3.5 w-3.5" aria-hidden /> View
          </Button>
          <Button size="sm" variant="ghost" onClick={() => onEdit(memory)} aria-label={`Edit memory ${memory.id}`}>
            <Pencil className="h-3.5 w-3.5" aria-hidden /> Edit
          </Button>
          <Button size="sm" variant="ghost" onClick={() => onDelete(memory)} aria-label={`Delete memory ${memory.id}`}>
            <Trash className="h-3.5 w-3.5" aria-hidden /> Delete
          </Button>
        </div>
      </div>
    </article>
  )
}

function Score({ label, value, strong = false }: { label: string; value: number | null | undefined; strong?: boolean }) {
  return (
    <div className="flex gap-1">
      <dt className="text-muted">{label}</dt>
      <dd className={`font-mono tabular-nums ${strong ? 'font-semibold' : ''}`}>{score(value)}</dd>
    </div>
  )
}

function MemoryDetail({ memory, onClose }: { memory: Memory; onClose: () => void }) {
  const history = useQuery(memoryQueries.history(memory.id))
  const fields: [string, string][] = [
    ['Tier', memory.tier],
    ['Confidence', score(memory.confidence)],
    ['Effective confidence', score(memory.effective_confidence)],
    ['Accessed', `${count(memory.access_count)} times, last ${timeAgo(memory.last_accessed_at)}`],
    ['Agent', memory.agent_id ?? '—'],
    ['Project / category / key', [memory.project_id, memory.category, memory.key].filter(Boolean).join(' / ') || '—'],
    ['Embedding', memory.embedded ? `${memory.embedding_model ?? '?'} (${memory.embedding_dim ?? '?'} dims)` : 'pending'],
    ['Created', dateTime(memory.created_at)],
    ['Updated', dateTime(memory.updated_at)],
    ['Expires', dateTime(memory.expires_at)],
  ]
  const revisions = history.data?.revisions ?? []
  const merges = history.data?.merges ?? []
  return (
    <Modal title="Memory" onClose={onClose} size="lg">
      <div className="space-y-4 text-sm">
        <p className="rounded-md bg-sunken p-3 break-words whitespace-pre-wrap">{memory.content}</p>
        <dl className="grid grid-cols-1 gap-x-4 gap-y-1 sm:grid-cols-[max-content_1fr]">
          {fields.map(([label, value]) => (
            <div key={label} className="contents">
              <dt className="text-muted">{label}</dt>
              <dd className="break-words">{value}</dd>
            </div>
          ))}
          <dt className="text-muted">Source</dt>
          <dd className="min-w-0">
            <MemorySource memory={memory} />
          </dd>
        </dl>
        {memory.metadata && Object.keys(memory.metadata).length > 0 && (
          <div>
            <h3 className="mb-1 font-medium">Metadata</h3>
            <pre className="overflow-x-auto rounded-md bg-sunken p-2 text-xs">{JSON.stringify(memory.metadata, null, 2)}</pre>
          </div>
        )}
        <div>
          <h3 className="mb-1 font-medium">History</h3>
          {history.isPending && <Loading label="Loading history…" />}
          {history.isError && <ErrorNotice title="Could not load the history" error={history.error} />}
          {history.isSuccess && revisions.length === 0 && merges.length === 0 && (
            <p className="text-muted">No earlier values and nothing merged into it.</p>
          )}
          {revisions.length > 0 && (
            <ul className="space-y-1">
              {revisions.map((revision) => (
                <li key={revision.replaced_at} className="rounded-md border border-line p-2">
                  <p className="text-xs text-muted">replaced {dateTime(revision.replaced_at)} · confidence {score(revision.confidence)}</p>
                  <p className="whitespace-pre-wrap">{revision.content}</p>
                </li>
              ))}
            </ul>
          )}
          {merges.length > 0 && (
            <ul className="mt-2 space-y-1">
              {merges.map((merge) => (
                <li key={merge.merged_id} className="rounded-md border border-line p-2">
                  <p className="text-xs text-muted">merged {dateTime(merge.merged_at)} · similarity {score(merge.similarity)}</p>
                  <p className="whitespace-pre-wrap">{merge.content}</p>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </Modal>
  )
}

/** Where a memory came from: the source the list sent along, else looked up by its id (which counts no access). */
function MemorySource({ memory }: { memory: Memory }) {
  const lookup = useQuery({ ...memoryQueries.source(memory.source_id ?? ''), enabled: !memory.source && !!memory.source_id })
  const source = memory.source ?? lookup.data
  if (source) return <SourceLabel source={source} linkToSource />
  if (!memory.source_id) return <span className="text-muted">not recorded (stored before sources were kept, or by hand)</span>
  if (lookup.isError) return <span className="text-muted">could not be loaded: {errorMessage(lookup.error)}</span>
  return <span className="text-muted">loading…</span>
}

function EditMemory({ memory, onClose }: { memory: Memory; onClose: () => void }) {
  const queryClient = useQueryClient()
  const [content, setContent] = useState(memory.content)
  const [tier, setTier] = useState<MemoryTier>(memory.tier)
  const [confidence, setConfidence] = useState(String(memory.confidence))
  const [errors, setErrors] = useState<{ content?: string; confidence?: string }>({})

  const save = useMutation({
    mutationFn: (patch: MemoryUpdate) => memoryApi.update(memory.id, patch),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Memory saved')
      void queryClient.invalidateQueries({ queryKey: memoryQueries.all })
      onClose()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: typeof errors = {}
    const value = Number(confidence)
    if (!content.trim()) next.content = 'A memory needs some content.'
    else if (content.length > MAX_CONTENT) next.content = `At most ${count(MAX_CONTENT)} characters.`
    if (confidence.trim() === '' || Number.isNaN(value) || value < 0 || value > 1) next.confidence = 'A number from 0 to 1.'
    setErrors(next)
    if (Object.keys(next).length > 0) return

    // PATCH only what changed: changing content re-embeds the memory, which is not free.
    const patch: MemoryUpdate = {}
    if (content !== memory.content) patch.content = content
    if (tier !== memory.tier) patch.tier = tier
    if (value !== memory.confidence) patch.confidence = value
    if (Object.keys(patch).length === 0) {
      onClose()
      return
    }
    save.mutate(patch)
  }

  return (
    <Modal title="Edit memory" onClose={onClose} size="lg">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <TextArea
          label="Content"
          rows={8}
          value={content}
          error={errors.content}
          hint="Changing the content re-embeds the memory."
          onChange={(event) => setContent(event.target.value)}
        />
        <div className="grid gap-4 sm:grid-cols-2">
          <SelectField label="Tier" value={tier} onChange={(event) => setTier(event.target.value as MemoryTier)}>
            {MEMORY_TIERS.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </SelectField>
          <TextField
            label="Confidence"
            type="number"
            inputMode="decimal"
            min={0}
            max={1}
            step={0.05}
            value={confidence}
            error={errors.confidence}
            onChange={(event) => setConfidence(event.target.value)}
          />
        </div>
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={save.isPending}>
            Save
          </Button>
        </div>
      </form>
    </Modal>
  )
}

function DeleteMemory({ memory, onClose }: { memory: Memory; onClose: () => void }) {
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: () => memoryApi.remove(memory.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Memory deleted')
      void queryClient.invalidateQueries({ queryKey: memoryQueries.all })
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title="Delete memory?"
      confirmLabel="Delete memory"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      busy={remove.isPending}
      error={remove.error ? errorMessage(remove.error) : null}
    >
      <p className="mb-2">This cannot be undone.</p>
      <p className="line-clamp-4 rounded-md bg-sunken p-2 text-fg">{memory.content}</p>
    </ConfirmDialog>
  )
}
