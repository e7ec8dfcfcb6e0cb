import { queryOptions } from '@tanstack/react-query'

import { apiFetch, queryString } from './client'
import type { components } from './generated/llm-gateway'

type Schemas = components['schemas']
export type ProviderStatus = Schemas['ProviderStatus']
export type ProviderTestResult = Schemas['ProviderTestResult']
export type ModelInfo = Schemas['ModelInfo']
export type InferenceStats = Schemas['InferenceStats']
export type GatewayConfig = Schemas['GatewayConfig']
export type GatewayConfigUpdate = Schemas['GatewayConfigUpdate']
export type RoutingStrategy = Schemas['RoutingStrategy']
export type InferenceBackend = Schemas['InferenceBackend']
export type InferenceState = Schemas['InferenceState']

// llm-gateway's routes outside /v1 sit behind the dashboard's /llm-api/ prefix (stripped by the proxy).
const GATEWAY = '/llm-api'

export const modelsQueries = {
  all: ['models'] as const,

  /** Every provider: available or not, why not, and its models. */
  providers: () =>
    queryOptions({
      queryKey: [...modelsQueries.all, 'providers'] as const,
      queryFn: ({ signal }) => modelsApi.discover({ signal }),
    }),

  /** The models a request may name now (the same list `/v1/models` gives OpenAI clients, typed). */
  models: () =>
    queryOptions({
      queryKey: [...modelsQueries.all, 'list'] as const,
      queryFn: ({ signal }) => apiFetch<ModelInfo[]>(`${GATEWAY}/models`, { signal }),
      staleTime: 30_000,
    }),

  stats: () =>
    queryOptions({
      queryKey: [...modelsQueries.all, 'stats'] as const,
      queryFn: ({ signal }) => apiFetch<InferenceStats>('/v1/inference/stats', { signal }),
      refetchInterval: 5_000,
    }),

  gatewayConfig: () =>
    queryOptions({
      queryKey: [...modelsQueries.all, 'gateway-config'] as const,
      queryFn: ({ signal }) => apiFetch<GatewayConfig>(`${GATEWAY}/config`, { signal }),
    }),
}

export const modelsApi = {
  test: (slug: string) => apiFetch<ProviderTestResult>(`${GATEWAY}/health/providers/${encodeURIComponent(slug)}/test`, { method: 'POST' }),
  /** What the gateway can use now; `refresh` probes the local slot again instead of waiting for its next check. */
  discover: ({ refresh = false, signal }: { refresh?: boolean; signal?: AbortSignal } = {}) =>
    apiFetch<ProviderStatus[]>(`/v1/models/discover${queryString({ refresh: refresh || undefined })}`, { signal }),
  rediscover: () => modelsApi.discover({ refresh: true }),
  updateGateway: (patch: GatewayConfigUpdate) => apiFetch<GatewayConfig>(`${GATEWAY}/config`, { method: 'PATCH', json: patch }),
}

/** Models a chat can use: the gateway lists embedding models too. */
export function chatModels(models: ModelInfo[] | undefined): ModelInfo[] {
  return (models ?? []).filter((model) => (model.capabilities ?? []).includes('chat'))
}

export interface ProviderWatch {
  /** How many times to ask; the gateway re-reads provider keys every few seconds. */
  attempts?: number
  intervalMs?: number
  /** Each answer, so the page can show it while the watch goes on. */
  onStatuses?: (statuses: ProviderStatus[]) => void
  signal?: AbortSignal
}

/**
 * Ask discover until provider `slug` is `available` (or not), or the attempts run out: a key saved a moment
 * ago is not in the gateway's first answer. Returns the provider's last reported status.
 */
export async function watchProvider(
  slug: string,
  available: boolean,
  { attempts = 8, intervalMs = 1_000, onStatuses, signal }: ProviderWatch = {},
): Promise<ProviderStatus | undefined> {
  let last: ProviderStatus | undefined
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await sleep(intervalMs, signal)
    const statuses = await modelsApi.discover({ signal })
    onStatuses?.(statuses)
    last = statuses.find((provider) => provider.slug === slug)
    if (last?.available === available) break
  }
  return last
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted()
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}
