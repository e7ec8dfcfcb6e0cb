export const ADMIN_SECRET_STORAGE_KEY = 'nova.adminSecret'

/**
 * The error body the kit's one error handler renders (nova_contracts.errors.ErrorBody). FastAPI documents
 * only its own 422 shape, so this body is not in the generated OpenAPI types; `detail` is a list for 422s.
 */
export interface ErrorBody {
  detail: string | { loc?: (string | number)[]; msg?: string }[]
  code?: string
  request_id?: string
}

export function getAdminSecret(): string | null {
  return localStorage.getItem(ADMIN_SECRET_STORAGE_KEY)
}

// Each service re-reads a rotated admin secret within ~5 s (nova_common.auth.AdminSecrets); until it does it
// still takes the previous one and refuses the new. Kept in memory only, and only for a little longer than that.
const ROTATION_GRACE_MS = 15_000
let previousSecret: { secret: string; until: number } | null = null

/** Store the secret the user entered (empty forgets it). */
export function setAdminSecret(secret: string): void {
  previousSecret = null
  if (secret) localStorage.setItem(ADMIN_SECRET_STORAGE_KEY, secret)
  else localStorage.removeItem(ADMIN_SECRET_STORAGE_KEY)
}

/**
 * Store a secret the server has just put in force in place of the current one. For a few seconds a request
 * a service refuses with the new secret is sent again with the previous one, so a rotation signs nobody out.
 */
export function replaceAdminSecret(next: string): void {
  const current = getAdminSecret()
  setAdminSecret(next)
  if (current && current !== next) previousSecret = { secret: current, until: Date.now() + ROTATION_GRACE_MS }
}

function rotationFallback(sent: string | null): string | null {
  if (!sent || !previousSecret || Date.now() > previousSecret.until || previousSecret.secret === sent) return null
  return previousSecret.secret
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

/** A sentence for the user: the server's `detail` for an ApiError, the browser's message otherwise. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.detail
  if (error instanceof Error) return error.message
  return String(error)
}

type UnauthorizedListener = (error: ApiError) => void
const unauthorizedListeners = new Set<UnauthorizedListener>()

/** Called on every 401, so the layout can ask for the admin secret wherever the request came from. */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener)
  return () => unauthorizedListeners.delete(listener)
}

export interface ApiFetchInit extends RequestInit {
  /** Sent as the JSON request body. */
  json?: unknown
}

/** `fetch` with the admin secret added and a non-2xx answer turned into a thrown ApiError. */
export async function apiResponse(path: string, init: ApiFetchInit = {}): Promise<Response> {
  const { json, headers: extraHeaders, ...rest } = init
  const headers = new Headers(extraHeaders)
  if (!headers.has('Accept')) headers.set('Accept', 'application/json')
  // The stored secret, unless the caller sends one of its own.
  const secret = headers.has('X-Admin-Secret') ? null : getAdminSecret()
  if (secret) headers.set('X-Admin-Secret', secret)
  let body = rest.body
  if (json !== undefined) {
    headers.set('Content-Type', 'application/json')
    body = JSON.stringify(json)
  }

  let response = await fetch(path, { ...rest, headers, body })
  const fallback = response.status === 401 ? rotationFallback(secret) : null
  // A stream body cannot be sent twice; every body this app sends is a string or nothing.
  if (fallback && (body == null || typeof body === 'string')) {
    const retry = new Headers(headers)
    retry.set('X-Admin-Secret', fallback)
    response = await fetch(path, { ...rest, headers: retry, body })
  }
  if (!response.ok) throw await toApiError(response)
  return response
}

/** Fetch a dashboard-relative path (`/recovery-api/...`) and return its parsed JSON body. */
export async function apiFetch<T>(path: string, init: ApiFetchInit = {}): Promise<T> {
  const response = await apiResponse(path, init)
  const text = await response.text()
  return (text ? parseJson(text) : undefined) as T
}

async function toApiError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '')
  const parsed = text ? parseJson(text) : undefined
  const errorBody = isErrorBody(parsed) ? parsed : undefined
  const detail = errorBody ? describeDetail(errorBody.detail) : response.statusText || `HTTP ${response.status}`
  const error = new ApiError(response.status, detail, errorBody)
  if (response.status === 401) unauthorizedListeners.forEach((listener) => listener(error))
  return error
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
  return detail
    .map((item) => [item.loc?.filter((part) => part !== 'body').join('.'), item.msg].filter(Boolean).join(': '))
    .join('; ')
}

/** A query-string from the defined values only, so an unset filter is left out rather than sent as "undefined". */
export function queryString(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}
