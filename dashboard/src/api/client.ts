import type { ErrorBody } from './types'

export const ADMIN_SECRET_STORAGE_KEY = 'nova.adminSecret'

export function getAdminSecret(): string | null {
  return localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)
}

export function setAdminSecret(secret: string): void {
  if (secret) localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, secret)
  else localStorage.removeItem(ADMIN_SECRET_STORAGE_KEY)
}

/** A non-2xx answer from a Nova service (or from the proxy in front of it). */
export class ApiError extends Error {
  readonly status: number
  /** The body's `detail`, or the status text when the body is not a Nova error body. */
  readonly detail: string
  readonly code: string | undefined
  readonly requestId: string | undefined

  constructor(status: number, detail: string, body?: Partial<ErrorBody>) {
    super(`${status}: ${detail}`)
    this.name = 'ApiError'
    this.status = status
    this.detail = detail
    this.code = body?.code
    this.requestId = body?.request_id
  }
}

export interface ApiFetchInit extends RequestInit {
  /** Sent as the JSON request body. */
  json?: unknown
}

/** Fetch a dashboard-relative path (`/recovery-api/...`) and return its parsed JSON body. */
export async function apiFetch<T>(path: string, init: ApiFetchInit = {}): Promise<T> {
  const { json, headers: extraHeaders, ...rest } = init
  const headers = new Headers(extraHeaders)
  headers.set('Accept', 'application/json')
  const secret = getAdminSecret()
  if (secret && !headers.has('X-Admin-Secret')) headers.set('X-Admin-Secret', secret)
  let body = rest.body
  if (json !== undefined) {
    headers.set('Content-Type', 'application/json')
    body = JSON.stringify(json)
  }

  const response = await fetch(path, { ...rest, headers, body })
  const text = await response.text()
  const parsed = text ? parseJson(text) : undefined

  if (!response.ok) {
    const errorBody = isErrorBody(parsed) ? parsed : undefined
    const detail = errorBody ? describeDetail(errorBody.detail) : response.statusText || `HTTP ${response.status}`
    throw new ApiError(response.status, detail, errorBody)
  }
  return parsed as T
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // A proxy's HTML error page, not a service answer.
    return undefined
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === 'object' && value !== null && 'detail' in value
}

function describeDetail(detail: ErrorBody['detail']): string {
  if (typeof detail === 'string') return detail
  return detail.map((item) => [item.loc?.join('.'), item.msg].filter(Boolean).join(': ')).join('; ')
}
