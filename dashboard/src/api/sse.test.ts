import { describe, expect, it } from 'vitest'

import { readServerSentEvents, type ServerSentEvent } from './sse'

/** A body delivered in the given chunks, as a network would split it. */
function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk))
      controller.close()
    },
  })
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = []
  for await (const event of readServerSentEvents(stream)) events.push(event)
  return events
}

describe('readServerSentEvents', () => {
  it('yields one event per blank-line-terminated block', async () => {
    const events = await collect(body('data: {"delta":"Hel"}\n\ndata: {"delta":"lo"}\n\ndata: [DONE]\n\n'))

    expect(events.map((e) => e.data)).toEqual(['{"delta":"Hel"}', '{"delta":"lo"}', '[DONE]'])
  })

  it('reassembles an event split across network chunks, even inside a multi-byte character', async () => {
    const bytes = new TextEncoder().encode('data: {"delta":"café"}\n\n')
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 19)) // ends between the two bytes of "é"
        controller.enqueue(bytes.slice(19))
        controller.close()
      },
    })

    expect(await collect(stream)).toEqual([{ event: 'message', data: '{"delta":"café"}' }])
  })

  it('skips keep-alive comments, reads event names and joins multi-line data', async () => {
    const events = await collect(body(': ping\n\nevent: status\r\ndata: line one\r\ndata: line two\r\n\r\n'))

    expect(events).toEqual([{ event: 'status', data: 'line one\nline two' }])
  })

  it('yields a final event that the server closed without a blank line', async () => {
    expect(await collect(body('data: [DONE]'))).toEqual([{ event: 'message', data: '[DONE]' }])
  })
})

describe('readServerSentEvents line endings', () => {
  it('does not split an event at a \\r\\n that arrives in two chunks', async () => {
    const events = await collect(body('data: a\r', '\ndata: b\r\n\r\n'))

    expect(events).toEqual([{ event: 'message', data: 'a\nb' }])
  })
})
