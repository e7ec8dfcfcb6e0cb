import { describe, expect, it, vi } from 'vitest'

import { ADMIN_SECRET_STORAGE_KEY, ApiError, apiFetch } from './client'

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
