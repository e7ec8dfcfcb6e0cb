import { vi } from 'vitest'

export interface Call {
  method: string
  /** Path and query string, as the dashboard asked for it. */
  url: string
  body: unknown
  headers: Headers
}

type Answer = Response | Error | unknown

/**
 * Stub `fetch` with a function of the request. Return a Response to send it as is, an Error to fail the
 * request at the network level, or any other value to send it as a 200 JSON body.
 */
export function stubApi(handler: (call: Call) => Answer | Promise<Answer>) {
  const calls: Call[] = []
  const fetchMock = vi.fn<typeof fetch>(async (input, init) => {
    const rawBody = init?.body
    const call: Call = {
      method: (init?.method ?? 'GET').toUpperCase(),
      url: String(input),
      body: typeof rawBody === 'string' ? JSON.parse(rawBody) : rawBody,
      headers: new Headers(init?.headers),
    }
    calls.push(call)
    const answer = await handler(call)
    if (answer instanceof Error) throw answer
    if (answer instanceof Response) return answer
    return json(answer)
  })
  vi.stubGlobal('fetch', fetchMock)
  return calls
}

export function json(body: unknown, status = 200): Response {
  if (status === 204) return new Response(null, { status })
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

export function notFound(call: Call): Response {
  return json({ detail: `no stub for ${call.method} ${call.url}` }, 404)
}
