import { ExternalLink } from 'lucide-react'
import { Link } from 'react-router'

import type { Source } from '../../api/memory'
import { Badge, badgeTone } from '../StateBadge'

/** Only web addresses become links: a `file:` or `javascript:` URI stays text. */
export function isWebAddress(uri: string | null | undefined): uri is string {
  return !!uri && /^https?:\/\//i.test(uri)
}

/** Where to open one source on the Memory page. */
export function sourceHref(id: string): string {
  return `/memory?view=sources&source=${encodeURIComponent(id)}`
}

/** "feed · Release notes (trust 0.60)": a source in one line, its title or address linked when it has one. */
export function SourceLabel({ source, linkToSource = false }: { source: Source; linkToSource?: boolean }) {
  const name = source.title || source.uri || `${source.kind} source`
  return (
    <span className="inline-flex min-w-0 flex-wrap items-center gap-1.5">
      <Badge className={source.kind === 'correction' ? badgeTone.good : badgeTone.neutral}>{source.kind}</Badge>
      {linkToSource ? (
        <Link to={sourceHref(source.id)} className="truncate text-accent-text underline-offset-2 hover:underline">
          {name}
        </Link>
      ) : isWebAddress(source.uri) ? (
        <a href={source.uri} target="_blank" rel="noreferrer noopener" className="inline-flex items-center gap-1 truncate text-accent-text hover:underline">
          {name}
          <ExternalLink className="h-3 w-3 shrink-0" aria-hidden />
        </a>
      ) : (
        <span className="truncate">{name}</span>
      )}
      <span className="text-xs text-muted">trust {source.trust.toFixed(2)}</span>
    </span>
  )
}
