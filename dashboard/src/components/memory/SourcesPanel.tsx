import { useQuery } from '@tanstack/react-query'
import { ChevronLeft, ChevronRight, FolderOpen } from 'lucide-react'
import { useState, type ReactNode } from 'react'

import { memoryQueries, SOURCE_KINDS, type Source, type SourceKind } from '../../api/memory'
import { count, dateTime, score, timeAgo } from '../../format'
import { Button } from '../Button'
import { SelectField } from '../Field'
import { Modal } from '../Modal'
import { Badge, badgeTone } from '../StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../States'
import { isWebAddress, SourceLabel } from './SourceLabel'

const PAGE_SIZE = 25
const MEMORIES_PAGE = 50

/** Where memories came from (chats, tasks, feeds, pages, corrections), each openable to see what it gave. */
export function SourcesPanel({ openId, onOpen }: { openId: string | null; onOpen: (id: string | null) => void }) {
  const [kind, setKind] = useState<SourceKind | ''>('')
  const [offset, setOffset] = useState(0)
  const page = useQuery(memoryQueries.sources({ kind: kind || undefined, offset, limit: PAGE_SIZE }))

  return (
    <div>
      <SelectField
        label="Kind"
        className="mb-4 w-48"
        value={kind}
        onChange={(event) => {
          setKind(event.target.value as SourceKind | '')
          setOffset(0)
        }}
      >
        <option value="">Every kind</option>
        {SOURCE_KINDS.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </SelectField>
      {page.isPending && <Loading label="Loading sources…" />}
      {page.isError && <ErrorNotice title="Could not load the sources" error={page.error} onRetry={() => void page.refetch()} />}
      {page.isSuccess && (page.data.items ?? []).length === 0 && (
        <EmptyState title={kind ? `No ${kind} sources` : 'No sources yet'}>Every chat turn, task, feed item or page Nova learns from appears here.</EmptyState>
      )}
      {page.isSuccess && (page.data.items ?? []).length > 0 && (
        <div className={page.isPlaceholderData ? 'opacity-60' : undefined}>
          <ul className="divide-y divide-line rounded-lg border border-line bg-panel" aria-label="Sources">
            {(page.data.items ?? []).map((source) => (
              <li key={source.id} className="flex flex-wrap items-center justify-between gap-3 px-3 py-2.5">
                <div className="min-w-0 flex-1">
                  <SourceLabel source={source} />
                  <p className="mt-0.5 text-xs text-muted">
                    {count(source.memory_count)} {source.memory_count === 1 ? 'memory' : 'memories'} · ingested {timeAgo(source.ingested_at)}
                    {source.author && <> · by {source.author}</>}
                  </p>
                </div>
                <Button size="sm" onClick={() => onOpen(source.id)} aria-label={`Open source ${source.title || source.uri || source.id}`}>
                  <FolderOpen className="h-3.5 w-3.5" aria-hidden />
                  Open
                </Button>
              </li>
            ))}
          </ul>
          <Pager offset={page.data.offset} shown={(page.data.items ?? []).length} total={page.data.total} pageSize={PAGE_SIZE} onPage={setOffset} />
        </div>
      )}
      {openId && <SourceDetail id={openId} onClose={() => onOpen(null)} />}
    </div>
  )
}

export function Pager({
  offset,
  shown,
  total,
  pageSize,
  onPage,
}: {
  offset: number
  shown: number
  total: number
  pageSize: number
  onPage: (offset: number) => void
}) {
  if (offset === 0 && shown >= total) return null
  return (
    <nav aria-label="Pages" className="mt-3 flex flex-wrap items-center justify-between gap-2 text-sm">
      <p className="text-muted">
        {count(offset + 1)}–{count(offset + shown)} of {count(total)}
      </p>
      <div className="flex gap-2">
        <Button size="sm" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - pageSize))}>
          <ChevronLeft className="h-4 w-4" aria-hidden />
          Previous
        </Button>
        <Button size="sm" disabled={offset + shown >= total} onClick={() => onPage(offset + pageSize)}>
          Next
          <ChevronRight className="h-4 w-4" aria-hidden />
        </Button>
      </div>
    </nav>
  )
}

function SourceDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const source = useQuery(memoryQueries.source(id))
  return (
    <Modal title="Source" onClose={onClose} size="lg">
      {source.isPending && <Loading label="Loading the source…" />}
      {source.isError && <ErrorNotice title="Could not load the source" error={source.error} onRetry={() => void source.refetch()} />}
      {source.isSuccess && <SourceBody source={source.data} />}
    </Modal>
  )
}

function SourceBody({ source }: { source: Source }) {
  const memories = useQuery(memoryQueries.sourceMemories(source.id, { limit: MEMORIES_PAGE }))
  const fields: [string, ReactNode][] = [
    ['Kind', source.kind],
    ['Title', source.title || '—'],
    [
      'Address',
      isWebAddress(source.uri) ? (
        <a href={source.uri} target="_blank" rel="noreferrer noopener" className="text-accent-text hover:underline">
          {source.uri}
        </a>
      ) : (
        source.uri || '—'
      ),
    ],
    ['Author', source.author || '—'],
    ['Trust', source.trust.toFixed(2)],
    ['Owner', source.owner],
    ['Fetched', dateTime(source.fetched_at)],
    ['Ingested', dateTime(source.ingested_at)],
    ['Content hash', <span className="font-mono text-xs break-all">{source.content_hash}</span>],
  ]
  const items = memories.data?.items ?? []
  return (
    <div className="space-y-4 text-sm">
      <dl className="grid grid-cols-1 gap-x-4 gap-y-1 sm:grid-cols-[max-content_1fr]">
        {fields.map(([label, value]) => (
          <div key={label} className="contents">
            <dt className="text-muted">{label}</dt>
            <dd className="break-words">{value}</dd>
          </div>
        ))}
      </dl>
      <div>
        <h3 className="mb-2 font-medium">
          Memories from this source <span className="font-normal text-muted">({count(source.memory_count)})</span>
        </h3>
        {memories.isPending && <Loading label="Loading its memories…" />}
        {memories.isError && <ErrorNotice title="Could not load its memories" error={memories.error} onRetry={() => void memories.refetch()} />}
        {memories.isSuccess && items.length === 0 && (
          <p className="text-muted">
            {source.memory_count > 0 ? 'Its memories could not be listed by this memory-service.' : 'Nothing was kept from it.'}
          </p>
        )}
        {items.length > 0 && (
          <ul className="space-y-2" aria-label="Memories from this source">
            {items.map((memory) => (
              <li key={memory.id} className="rounded-md border border-line p-2">
                <div className="mb-1 flex flex-wrap items-center gap-2 text-xs text-muted">
                  <Badge className={badgeTone.accent}>{memory.tier}</Badge>
                  <span>confidence {score(memory.confidence)}</span>
                  <span>importance {score(memory.importance)}</span>
                  <span>{timeAgo(memory.created_at)}</span>
                </div>
                <p className="line-clamp-4 break-words whitespace-pre-wrap">{memory.content}</p>
              </li>
            ))}
          </ul>
        )}
        {memories.isSuccess && items.length > 0 && items.length < source.memory_count && (
          <p className="mt-2 text-xs text-muted">
            Showing {count(items.length)} of {count(source.memory_count)}.
          </p>
        )}
      </div>
    </div>
  )
}
