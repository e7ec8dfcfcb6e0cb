// The notification stream, read in a dedicated worker. A fetch that stays open on the page itself counts as
// a page load that never finishes for "network idle" (Playwright's waitForLoadState, and so the browser tests),
// and EventSource cannot send the admin secret; a worker's requests are not the page's.
import { readServerSentEvents } from './sse'

/** What the page asks: connect with these credentials. Stopping is terminating the worker. */
export interface NotificationWorkerRequest {
  url: string
  secret: string | null
}

/** What the worker reports, in order: `open` once, `event` per SSE data, then one of `refused` or `ended`. */
export type NotificationWorkerMessage =
  | { type: 'open' }
  | { type: 'event'; data: string }
  | { type: 'refused'; status: number; detail: string }
  | { type: 'ended'; reason: string }

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<NotificationWorkerRequest>) => void) | null
  postMessage: (message: NotificationWorkerMessage) => void
}

scope.onmessage = (event) => void follow(event.data)

async function follow({ url, secret }: NotificationWorkerRequest): Promise<void> {
  try {
    const headers: Record<string, string> = { Accept: 'text/event-stream' }
    if (secret) headers['X-Admin-Secret'] = secret
    const response = await fetch(url, { headers })
    if (!response.ok) {
      const text = await response.text().catch(() => '')
      let detail = response.statusText || `HTTP ${response.status}`
      try {
        const parsed = JSON.parse(text) as { detail?: unknown }
        if (typeof parsed.detail === 'string') detail = parsed.detail
      } catch {
        // not a Nova error body (a proxy's page): the status text says enough
      }
      scope.postMessage({ type: 'refused', status: response.status, detail })
      return
    }
    if (!response.body) return scope.postMessage({ type: 'ended', reason: 'the notification stream has no body' })
    scope.postMessage({ type: 'open' })
    for await (const sse of readServerSentEvents(response.body)) {
      if (sse.data === '[DONE]') break
      scope.postMessage({ type: 'event', data: sse.data })
    }
    scope.postMessage({ type: 'ended', reason: 'the notification stream ended' })
  } catch (error) {
    scope.postMessage({ type: 'ended', reason: error instanceof Error ? error.message : String(error) })
  }
}
