import { describe, expect, it, vi } from 'vitest'

import { ADMIN_SECRET_STORAGE_KEY, ApiError, apiFetch, onUnauthorized, replaceAdminSecret, setAdminSecret } from './client'

function stubFetch(response: Response) {
  const fetchMock = vi.fn<typeof fetch>().mockResolvedValue(response)
  vi.stubGlobal('fetch', fetchMock)
  return fetchMock
}

function jsonResponse(body: unknown, init: ResponseInit = {}) {
  return new Response(JSON.stringify(body), { ...init, headers: { 'Content-Type': 'application/json' } })
}

describe('apiFetch', () => {
  it('returns the parsed JSON body', async () => {
    stubFetch(jsonResponse({ service: 'recovery', status: 'alive' }))

    await expect(apiFetch('/recovery-api/health/live')).resolves.toEqual({ service: 'recovery', status: 'alive' })
  })

  it('throws an ApiError carrying the status and detail on 401', async () => {
    stubFetch(
      jsonResponse({ detail: 'Invalid admin secret', code: 'unauthorized', request_id: 'r-1' }, { status: 401 }),
    )

    const error = await apiFetch('/api/v1/keys').catch((e: unknown) => e)

    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 401, detail: 'Invalid admin secret', code: 'unauthorized', requestId: 'r-1' })
  })

  it('falls back to the status text when the error body is not JSON', async () => {
    stubFetch(new Response('<html>502 Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }))

    await expect(apiFetch('/recovery-api/health/live')).rejects.toMatchObject({ status: 502, detail: 'Bad Gateway' })
  })

  it('joins validation errors into one detail on 422', async () => {
    stubFetch(jsonResponse({ detail: [{ loc: ['body', 'name'], msg: 'Field required' }] }, { status: 422 }))

    await expect(apiFetch('/api/v1/agents', { method: 'POST', json: {} })).rejects.toMatchObject({
      status: 422,
      detail: 'name: Field required',
    })
  })

  it('sends the stored admin secret as X-Admin-Secret', async () => {
    localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, 's3cret')
    const fetchMock = stubFetch(jsonResponse({}))

    await apiFetch('/api/v1/keys')

    const headers = new Headers(fetchMock.mock.calls[0]?.[1]?.headers)
    expect(headers.get('X-Admin-Secret')).toBe('s3cret')
  })

  it('sends no X-Admin-Secret when none is stored', async () => {
    const fetchMock = stubFetch(jsonResponse({}))

    await apiFetch('/api/v1/keys')

    const headers = new Headers(fetchMock.mock.calls[0]?.[1]?.headers)
    expect(headers.has('X-Admin-Secret')).toBe(false)
  })
})

describe('admin secret rotation', () => {
  const refused = () => jsonResponse({ detail: 'invalid admin secret' }, { status: 401 })

  it('sends a request a service refuses with the new secret again with the previous one', async () => {
    setAdminSecret('old-secret-0123456789')
    replaceAdminSecret('new-secret-0123456789')
    const fetchMock = vi
      .fn<typeof fetch>()
      .mockImplementation(async (_input, init) =>
        new Headers(init?.headers).get('X-Admin-Secret') === 'old-secret-0123456789' ? jsonResponse({ ok: true }) : refused(),
      )
    vi.stubGlobal('fetch', fetchMock)
    const prompts: ApiError[] = []
    const stop = onUnauthorized((error) => prompts.push(error))

    await expect(apiFetch('/llm-api/config', { method: 'PATCH', json: { a: 1 } })).resolves.toEqual({ ok: true })

    stop()
    const sent = fetchMock.mock.calls.map(([, init]) => [new Headers(init?.headers).get('X-Admin-Secret'), init?.body])
    expect(sent).toEqual([
      ['new-secret-0123456789', '{"a":1}'],
      ['old-secret-0123456789', '{"a":1}'],
    ])
    expect(prompts).toEqual([])
    expect(localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)).toBe('new-secret-0123456789')
  })

  it('does not fall back once the user enters a secret by hand', async () => {
    setAdminSecret('old-secret-0123456789')
    replaceAdminSecret('new-secret-0123456789')
    setAdminSecret('typed-secret-0123456789')
    const fetchMock = stubFetch(refused())

    await expect(apiFetch('/api/v1/keys')).rejects.toMatchObject({ status: 401 })
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })
})
