// Hand-written mirrors of the Pydantic models in nova-contracts (nova_contracts/health.py, errors.py).
// A later step replaces them with types generated from the services' OpenAPI documents
// (`npm run gen:types` reads ../openapi/*.json), so the dashboard cannot drift from the API.

export type CheckStatus = 'ok' | 'down'

/** One dependency of a service (postgres, redis, another service) as seen by its readiness probe. */
export interface DependencyCheck {
  name: string
  status: CheckStatus
  required: boolean
  latency_ms: number | null
  detail: string | null
}

/** `GET /health/live` of any service. */
export interface Liveness {
  service: string
  status: string
  version: string
  uptime_seconds: number
}

export type ServiceState = 'ready' | 'not_ready' | 'down' | 'disabled'

/** One service of the stack as recovery sees it. */
export interface ServiceStatus {
  name: string
  url: string
  port: number
  profile: string | null
  state: ServiceState
  latency_ms: number | null
  detail: string | null
  checks: DependencyCheck[]
}

/** `GET /api/v1/recovery/services` of recovery. */
export interface ServicesOverview {
  services: ServiceStatus[]
  ready: number
  total: number
  /** ISO 8601 timestamp. */
  checked_at: string
}

/** The error body every Nova service returns; `detail` is a list only for 422 validation errors. */
export interface ErrorBody {
  detail: string | { loc?: (string | number)[]; msg?: string }[]
  code?: string
  request_id?: string
}
