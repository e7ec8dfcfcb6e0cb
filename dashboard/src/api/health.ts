import { queryOptions } from '@tanstack/react-query'

import { apiFetch } from './client'
import type { components } from './generated/recovery'

export type Liveness = components['schemas']['Liveness']
export type ServiceState = components['schemas']['ServiceState']
export type ServiceStatus = components['schemas']['ServiceStatus']
export type ServicesOverview = components['schemas']['ServicesOverview']
export type DependencyCheck = components['schemas']['DependencyCheck']

export const healthQueries = {
  all: ['health'] as const,

  /** Recovery's liveness: the one service the dashboard needs before it can show anything else. */
  recoveryLive: () =>
    queryOptions({
      queryKey: [...healthQueries.all, 'recovery', 'live'] as const,
      queryFn: ({ signal }) => apiFetch<Liveness>('/recovery-api/health/live', { signal }),
      refetchInterval: 2_000,
      // The 2 s poll is the retry; retrying inside it would only delay the "waiting" screen.
      retry: false,
    }),

  /** Every service of the stack as recovery probes it. */
  services: () =>
    queryOptions({
      queryKey: [...healthQueries.all, 'services'] as const,
      queryFn: ({ signal }) => apiFetch<ServicesOverview>('/recovery-api/api/v1/recovery/services', { signal }),
      refetchInterval: 3_000,
    }),
}

/** One service's entry in the overview, or undefined when recovery does not list it. */
export function findService(overview: ServicesOverview | undefined, name: string): ServiceStatus | undefined {
  return overview?.services.find((service) => service.name === name)
}
