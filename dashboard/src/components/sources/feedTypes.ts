import type { FeedType } from '../../api/intel'

export const FEED_TYPE_LABELS: Record<FeedType, string> = {
  rss: 'RSS',
  atom: 'Atom',
  reddit_json: 'Reddit listing',
  page: 'Web page (watch for changes)',
  github_trending: 'GitHub trending',
  github_releases: 'GitHub releases',
}

const FEED_SUFFIXES = ['.xml', '.rss', '.atom']
const FEED_PATH_PARTS = ['/rss', '/feed', '/atom', '/feeds']

/**
 * The type the orchestrator will detect for a URL sent without one (orchestrator/intel/detect.py, same rules),
 * so the form can say what it will be before saving. The server decides; this is only the preview.
 */
export function detectFeedType(url: string): FeedType | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null
  const host = parsed.hostname.toLowerCase()
  const path = parsed.pathname.toLowerCase().replace(/\/+$/, '')
  if (host === 'reddit.com' || host.endsWith('.reddit.com')) return 'reddit_json'
  if (host === 'github.com' || host === 'www.github.com') {
    if (path.startsWith('/trending')) return 'github_trending'
    if (path.includes('/releases')) return 'github_releases'
  }
  if (path.endsWith('.atom')) return 'atom'
  if (FEED_SUFFIXES.some((suffix) => path.endsWith(suffix)) || FEED_PATH_PARTS.some((part) => path.includes(part))) return 'rss'
  return 'page'
}

/** A check or refresh interval in the largest whole unit: "5 min", "2 h", "1 d". */
export function intervalText(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`
  if (seconds % 3600 === 0) return `${seconds / 3600} h`
  return `${Math.round(seconds / 60)} min`
}
