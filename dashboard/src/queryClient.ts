import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query'

import { ApiError, errorMessage } from './api/client'
import { toast } from './toast'

declare module '@tanstack/react-query' {
  interface Register {
    mutationMeta: {
      /** false when the form shows the server's refusal next to the fields itself. */
      errorToast?: boolean
    }
  }
}

function isClientError(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500
}

/**
 * One cache for the app. A first load that fails is shown by the page (error state with retry); a failed
 * refresh of data already on screen, or a failed action, becomes a toast. 401s open the admin secret
 * prompt instead (the layout listens to apiFetch), so they are not toasted twice.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({
      onError: (error, query) => {
        if (query.state.data !== undefined && !isClientError(error)) {
          toast.error(`Refresh failed: ${errorMessage(error)}`)
        }
      },
    }),
    mutationCache: new MutationCache({
      onError: (error, _variables, _result, mutation) => {
        if (mutation.meta?.errorToast === false) return
        if (error instanceof ApiError && error.status === 401) return
        toast.error(errorMessage(error))
      },
    }),
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        // A 4xx will not change by asking again; a 5xx or a dropped connection might.
        retry: (failureCount, error) => !isClientError(error) && failureCount < 1,
      },
    },
  })
}
