/** One server-sent event: its `event:` name (default "message") and its `data:` lines joined by newlines. */
export interface ServerSentEvent {
  event: string
  data: string
}

/**
 * The events of a `text/event-stream` body, as they arrive. fetch + a reader rather than EventSource, because
 * the chat stream is a POST with a JSON body and an admin-secret header, which EventSource cannot send.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader()
  // fetch errors the body when its signal aborts, but a body from elsewhere (a cache, a test) may not.
  const cancel = () => void reader.cancel().catch(() => undefined)
  signal?.addEventListener('abort', cancel, { once: true })
  // `stream: true` holds back a multi-byte character split across two network chunks.
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    while (true) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      // Events end at a blank line; the spec allows \n, \r\n and \r line endings. A trailing \r waits for
      // the next chunk, which may start with the \n of the same \r\n.
      const heldBack = buffer.endsWith('\r') ? '\r' : ''
      buffer = normaliseNewlines(heldBack ? buffer.slice(0, -1) : buffer)
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const event = parseEvent(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        if (event) yield event
      }
      buffer += heldBack
    }
    const last = parseEvent(normaliseNewlines(buffer + decoder.decode()))
    if (last) yield last
  } finally {
    signal?.removeEventListener('abort', cancel)
    reader.releaseLock()
  }
}

function normaliseNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n')
}

function parseEvent(block: string): ServerSentEvent | null {
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue // blank or a keep-alive comment
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') data.push(value)
    else if (field === 'event') event = value
  }
  return data.length > 0 ? { event, data: data.join('\n') } : null
}
