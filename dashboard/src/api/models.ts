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
      queryFn: ({ signal }) => apiFetch<ProviderStatus[]>(`${GATEWAY}/health/providers`, { signal }),
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
  /** Probe the local slot again now instead of at the gateway's next refresh. */
  rediscover: () => apiFetch<ProviderStatus[]>(`/v1/models/discover${queryString({ refresh: true })}`),
  updateGateway: (patch: GatewayConfigUpdate) => apiFetch<GatewayConfig>(`${GATEWAY}/config`, { method: 'PATCH', json: patch }),
}

/** Models a chat can use: the gateway lists embedding models too. */
export function chatModels(models: ModelInfo[] | undefined): ModelInfo[] {
  return (models ?? []).filter((model) => (model.capabilities ?? []).includes('chat'))
}
