import { useQuery } from '@tanstack/react-query'

import { isCrawlActive, knowledgeQueries, type Crawl, type KnowledgeSource } from '../../api/knowledge'
import { count, dateTime, timeAgo } from '../../format'
import { Spinner } from '../Spinner'
import { Badge, badgeTone } from '../StateBadge'
import { ErrorNotice, Loading } from '../States'

const crawlTone: Record<Crawl['status'], string> = {
  running: badgeTone.warn,
  complete: badgeTone.good,
  partial: badgeTone.warn,
  failed: badgeTone.bad,
}

/** fetched / queued / ingested / unchanged and the skips by reason, as one line of counters. */
export function CrawlCounters({ crawl }: { crawl: Crawl }) {
  const skipped = Object.entries(crawl.skipped ?? {}).filter(([, n]) => n > 0)
  return (
    <dl className="flex flex-wrap gap-x-4 gap-y-1 text-xs" aria-label="Crawl counters">
      {(
        [
          ['Fetched', crawl.fetched],
          ['Queued', crawl.queued],
          ['Ingested', crawl.ingested],
          ['Unchanged', crawl.unchanged],
        ] as const
      ).map(([label, value]) => (
        <div key={label} className="flex gap-1">
          <dt className="text-muted">{label}</dt>
          <dd className="tabular-nums">{count(value)}</dd>
        </div>
      ))}
      <div className="flex gap-1">
        <dt className="text-muted">Skipped</dt>
        <dd>{skipped.length === 0 ? '0' : skipped.map(([reason, n]) => `${reason.replaceAll('_', ' ')} ${count(n)}`).join(', ')}</dd>
      </div>
    </dl>
  )
}

/**
 * The crawl knowledge-worker is running (or is about to start) for a queued or crawling source, read again
 * every two seconds, with a bar of pages fetched against the source's page limit.
 */
export function LiveCrawl({ source }: { source: KnowledgeSource }) {
  const crawls = useQuery(knowledgeQueries.crawls(source.id, true))
  const running = crawls.data?.find((crawl) => crawl.status === 'running')

  if (!running) {
    return (
      <p className="mt-2 flex items-center gap-2 text-xs text-muted" role="status">
        <Spinner className="h-3 w-3" label={null} />
        Waiting for knowledge-worker to start the crawl (it runs with COMPOSE_PROFILES=knowledge).
      </p>
    )
  }
  const limit = source.crawl.max_pages
  const done = Math.min(running.fetched, limit)
  return (
    <div className="mt-2 space-y-1 rounded-md bg-sunken px-2 py-2" aria-label={`Crawl of ${source.name} in progress`} data-testid="live-crawl">
      <div className="flex items-center gap-2 text-xs">
        <Spinner className="h-3 w-3" label={null} />
        <span>
          Crawling: {count(running.fetched)} of at most {count(limit)} pages, started {timeAgo(running.started_at)}
        </span>
      </div>
      <progress className="h-1.5 w-full accent-teal-600" max={limit} value={done} aria-label="Pages fetched" />
      <CrawlCounters crawl={running} />
      {running.log.length > 0 && <p className="truncate font-mono text-xs text-muted">{running.log[running.log.length - 1]}</p>}
    </div>
  )
}

/** The source's crawls, newest first, each with its counters, error and log. Mounted only when opened. */
export function CrawlHistory({ source }: { source: KnowledgeSource }) {
  const crawls = useQuery(knowledgeQueries.crawls(source.id, isCrawlActive(source)))

  if (crawls.isPending) return <Loading label="Loading crawl history…" />
  if (crawls.isError) return <ErrorNotice title="Could not load the crawl history" error={crawls.error} onRetry={() => void crawls.refetch()} />
  if (crawls.data.length === 0) return <p className="py-2 text-xs text-muted">No crawl yet.</p>

  return (
    <ol className="mt-2 space-y-2" aria-label={`Crawls of ${source.name}`}>
      {crawls.data.map((crawl) => (
        <li key={crawl.id} className="rounded-md border border-line px-2 py-2">
          <p className="flex flex-wrap items-center gap-2 text-xs">
            <Badge className={crawlTone[crawl.status]}>{crawl.status}</Badge>
            <span title={dateTime(crawl.started_at)}>started {timeAgo(crawl.started_at)}</span>
            {crawl.finished_at && <span className="text-muted">took {duration(crawl.started_at, crawl.finished_at)}</span>}
          </p>
          <div className="mt-1">
            <CrawlCounters crawl={crawl} />
          </div>
          {crawl.error && <p className="mt-1 text-xs break-words text-rose-700 dark:text-rose-300">{crawl.error}</p>}
          {crawl.log.length > 0 && (
            <details className="mt-1">
              <summary className="cursor-pointer text-xs text-muted hover:text-fg">Log ({crawl.log.length})</summary>
              <pre className="mt-1 max-h-48 overflow-auto rounded bg-sunken p-2 font-mono text-xs whitespace-pre-wrap break-words">
                {crawl.log.join('\n')}
              </pre>
            </details>
          )}
        </li>
      ))}
    </ol>
  )
}

function duration(startIso: string, endIso: string): string {
  const seconds = Math.max(0, Math.round((new Date(endIso).getTime() - new Date(startIso).getTime()) / 1000))
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
}
