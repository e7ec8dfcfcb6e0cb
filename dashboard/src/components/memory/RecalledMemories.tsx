import { Brain } from 'lucide-react'
import { Link } from 'react-router'

import { score } from '../../format'
import { isWebAddress, sourceHref } from './SourceLabel'

/** One recalled memory as a chat turn reports it (memory-service's ContextItem, plus whatever scores it carries). */
export interface RecalledMemory {
  id: string
  tier?: string
  content?: string
  score?: number | null
  vector_score?: number | null
  keyword_score?: number | null
  confidence?: number | null
  source_id?: string | null
  source?: { kind?: string; title?: string | null; uri?: string | null; trust?: number | null } | null
}

/** What a turn says about the memories it recalled: always how many, and which ones when the server sends them. */
export interface RecallSummary {
  count: number
  tokens: number | null
  items: RecalledMemory[]
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const numberOrNull = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null)
const stringOrNull = (value: unknown): string | null => (typeof value === 'string' && value ? value : null)

/**
 * Read the recall out of a stream `meta` event or a stored assistant message's `metadata`. Today the
 * orchestrator sends `memories` (a count) and `memory_tokens`; `recalled` (the items with their scores and
 * source) is read when present. Anything malformed is skipped: this is an explanation, never a reason to fail.
 */
export function recallFromMeta(meta: Record<string, unknown> | null | undefined): RecallSummary | null {
  if (!meta) return null
  const items: RecalledMemory[] = Array.isArray(meta.recalled)
    ? meta.recalled.filter(isRecord).flatMap((raw) => {
        const id = stringOrNull(raw.id)
        if (!id) return []
        const source = isRecord(raw.source) ? raw.source : null
        return [
          {
            id,
            tier: stringOrNull(raw.tier) ?? undefined,
            content: stringOrNull(raw.content) ?? undefined,
            score: numberOrNull(raw.score),
            vector_score: numberOrNull(raw.vector_score),
            keyword_score: numberOrNull(raw.keyword_score),
            confidence: numberOrNull(raw.confidence),
            source_id: stringOrNull(raw.source_id),
            source: source && {
              kind: stringOrNull(source.kind) ?? undefined,
              title: stringOrNull(source.title),
              uri: stringOrNull(source.uri),
              trust: numberOrNull(source.trust),
            },
          },
        ]
      })
    : []
  const counted = numberOrNull(meta.memories)
  const total = Math.max(counted ?? 0, items.length)
  if (total === 0) return null
  return { count: total, tokens: numberOrNull(meta.memory_tokens), items }
}

/** "Recalled 3 memories", opening to say why each one was recalled: its scores and where it came from. */
export function RecalledMemories({ recall }: { recall: RecallSummary }) {
  const label = `Recalled ${recall.count} ${recall.count === 1 ? 'memory' : 'memories'}`
  return (
    <details className="mt-1 max-w-full text-xs sm:max-w-[85%]" data-testid="recalled-memories">
      <summary className="inline-flex cursor-pointer items-center gap-1 text-muted hover:text-fg">
        <Brain className="h-3.5 w-3.5" aria-hidden />
        {label}
        {recall.tokens != null && <span>· {recall.tokens} tokens</span>}
      </summary>
      {recall.items.length === 0 ? (
        <p className="mt-1 text-muted">Which memories and why is not reported by this server; only how many were recalled.</p>
      ) : (
        <ol className="mt-1 space-y-1.5" aria-label="Why these memories were recalled">
          {recall.items.map((item) => (
            <li key={item.id} className="rounded-md border border-line bg-panel p-2">
              {item.content && <p className="line-clamp-3 text-sm break-words whitespace-pre-wrap text-fg">{item.content}</p>}
              <p className="mt-1 flex flex-wrap gap-x-3 gap-y-0.5 text-muted">
                {item.tier && <span>{item.tier}</span>}
                <Why label="match" value={item.score} />
                <Why label="meaning" value={item.vector_score} />
                <Why label="keywords" value={item.keyword_score} />
                <Why label="confidence" value={item.confidence} />
                <RecallSource item={item} />
              </p>
            </li>
          ))}
        </ol>
      )}
    </details>
  )
}

function Why({ label, value }: { label: string; value: number | null | undefined }) {
  if (value == null) return null
  return (
    <span>
      {label} <span className="font-mono text-fg tabular-nums">{score(value)}</span>
    </span>
  )
}

function RecallSource({ item }: { item: RecalledMemory }) {
  const source = item.source
  const name = source?.title || source?.uri || (source?.kind ? `${source.kind} source` : 'its source')
  if (source && isWebAddress(source.uri)) {
    return (
      <span>
        from {source.kind && `${source.kind} · `}
        <a href={source.uri} target="_blank" rel="noreferrer noopener" className="text-accent-text hover:underline">
          {name}
        </a>
      </span>
    )
  }
  if (item.source_id) {
    return (
      <span>
        from{' '}
        <Link to={sourceHref(item.source_id)} className="text-accent-text hover:underline">
          {source?.kind ? `${source.kind} · ${name}` : name}
        </Link>
      </span>
    )
  }
  return source ? <span>from {source.kind ? `${source.kind} · ${name}` : name}</span> : <span>source unknown</span>
}
