import { useQuery } from '@tanstack/react-query'
import { useEffect, type ReactNode } from 'react'
import { Navigate } from 'react-router'

import { ApiError, getAdminSecret } from '../api/client'
import { configQueries, configValue } from '../api/config'
import { Loading } from './States'

// Remembered per browser once the server says onboarding is done, so later visits skip the config request.
export const ONBOARDED_KEY = 'nova.onboarded'
export const ONBOARDING_CONFIG_KEY = 'onboarding.completed'

/**
 * Sends a first visit to the onboarding wizard. "First" is per installation: the wizard stores
 * `onboarding.completed` in the orchestrator's platform config, so a second browser is not asked again.
 */
export function OnboardingGate({ children }: { children: ReactNode }) {
  const remembered = localStorage.getItem(ONBOARDED_KEY) === '1'
  const secret = getAdminSecret()
  const entries = useQuery({ ...configQueries.entries(), enabled: !remembered && Boolean(secret) })
  const completed = configValue<unknown>(entries.data, ONBOARDING_CONFIG_KEY, false) === true

  useEffect(() => {
    if (completed) localStorage.setItem(ONBOARDED_KEY, '1')
  }, [completed])

  if (remembered || completed) return children
  // Without the admin secret nothing else works; the wizard's first step asks for it.
  if (!secret) return <Navigate to="/onboarding" replace />
  if (entries.isPending) return <Loading label="Starting…" />
  if (entries.isError) {
    if (entries.error instanceof ApiError && entries.error.status === 401) return <Navigate to="/onboarding" replace />
    // The orchestrator is unwell: let the pages show their own errors rather than trapping the user here.
    return children
  }
  return <Navigate to="/onboarding" replace />
}
