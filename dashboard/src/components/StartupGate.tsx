import { useQuery } from '@tanstack/react-query'
import { useEffect, useState, type ReactNode } from 'react'

import { findService, healthQueries } from '../api/health'
import { Startup } from '../pages/Startup'
import { Button } from './Button'

// Once the orchestrator has been seen ready in this tab, a reload does not show the startup screen again.
const SESSION_KEY = 'nova.startupPassed'

/**
 * The seed's startup behaviour: the dashboard needs only recovery to start, and shows every service's state
 * until the orchestrator (which every page talks to) is ready. After that a service going down is a page's
 * error state, not a return to this screen.
 */
export function StartupGate({ children }: { children: ReactNode }) {
  const [passed, setPassed] = useState(() => sessionStorage.getItem(SESSION_KEY) === '1')
  const overview = useQuery({ ...healthQueries.services(), enabled: !passed })
  const orchestratorReady = findService(overview.data, 'orchestrator')?.state === 'ready'

  useEffect(() => {
    if (orchestratorReady) {
      sessionStorage.setItem(SESSION_KEY, '1')
      setPassed(true)
    }
  }, [orchestratorReady])

  if (passed) return children
  return (
    <div className="min-h-dvh">
      <header className="flex items-center justify-between border-b border-line bg-panel px-6 py-3">
        <span className="text-lg font-semibold tracking-tight text-accent-text">Nova</span>
        <Button size="sm" variant="ghost" onClick={() => setPassed(true)}>
          Open the dashboard anyway
        </Button>
      </header>
      <main className="mx-auto max-w-5xl px-4 py-8 sm:px-6">
        <p className="mb-6 text-sm text-muted">Nova is starting. The dashboard opens once the orchestrator is ready.</p>
        <Startup />
      </main>
    </div>
  )
}
