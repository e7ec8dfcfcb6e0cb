import { queryOptions } from '@tanstack/react-query'

import { apiFetch } from './client'
import type { OrchestratorSchemas } from './orchestrator'

export type Identity = OrchestratorSchemas['Identity']
export type ConfigEntry = OrchestratorSchemas['ConfigEntry']

export const configQueries = {
  all: ['config'] as const,

  /** Public: the AI's name and greeting with `{name}` already resolved. */
  identity: () =>
    queryOptions({
      queryKey: [...configQueries.all, 'identity'] as const,
      queryFn: ({ signal }) => apiFetch<Identity>('/api/v1/identity', { signal }),
      staleTime: 60_000,
    }),

  /** Every platform setting, defaults included (admin). */
  entries: () =>
    queryOptions({
      queryKey: [...configQueries.all, 'entries'] as const,
      queryFn: ({ signal }) => apiFetch<ConfigEntry[]>('/api/v1/config', { signal }),
    }),
}

export const configApi = {
  update: (key: string, value: unknown) =>
    apiFetch<ConfigEntry>(`/api/v1/config/${encodeURIComponent(key)}`, { method: 'PATCH', json: { value } }),

  /** Set (or, with null, remove) a provider's API key; the answer carries the masked value, never the key. */
  setProviderKey: (slug: string, key: string | null) => configApi.update(providerKeySetting(slug), key),
}

/** The secret setting holding a provider's key (nova_contracts.orchestrator.provider_key_setting). */
export function providerKeySetting(slug: string): string {
  return `llm.api_key.${slug}`
}

/**
 * The setting of `slug`'s key when the orchestrator takes one for it: it lists a setting for every provider
 * whose key may be entered here, set or not, so this list decides which providers get a key field.
 */
export function providerKeyEntry(entries: ConfigEntry[] | undefined, slug: string): ConfigEntry | undefined {
  return entries?.find((entry) => entry.key === providerKeySetting(slug))
}

/** A setting's value from the list, or `fallback` when the orchestrator does not list the key. */
export function configValue<T>(entries: ConfigEntry[] | undefined, key: string, fallback: T): T {
  const entry = entries?.find((e) => e.key === key)
  return entry === undefined || entry.value === undefined ? fallback : (entry.value as T)
}
