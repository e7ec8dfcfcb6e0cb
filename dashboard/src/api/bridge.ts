import { queryOptions } from '@tanstack/react-query'

import { apiFetch } from './client'
import type { components } from './generated/chat-bridge'

export type BridgeStatus = components['schemas']['BridgeStatus']
export type BridgeAdapterStatus = components['schemas']['BridgeAdapterStatus']
export type AdapterState = components['schemas']['AdapterState']

// chat-bridge behind the dashboard's /bridge-api/ prefix (stripped by the proxy).
const BASE = '/bridge-api'

export const bridgeQueries = {
  all: ['bridge'] as const,

  status: () =>
    queryOptions({
      queryKey: [...bridgeQueries.all, 'status'] as const,
      queryFn: ({ signal }) => apiFetch<BridgeStatus>(`${BASE}/api/status`, { signal }),
      // The bridge is an opt-in profile; when it is off, asking again soon will not change that.
      retry: false,
    }),
}

export const bridgeApi = {
  /** Re-read tokens and allow-lists and restart the adapters. */
  reload: () => apiFetch<BridgeStatus>(`${BASE}/reload`, { method: 'POST' }),
}
