import { useQuery } from '@tanstack/react-query'

import { ApiError } from '../api/client'
import { healthQueries, type ServicesOverview } from '../api/health'
import { ServiceTable } from '../components/ServiceTable'
import { Spinner } from '../components/Spinner'

/** The landing screen: waits for recovery, then shows every service's state as recovery probes it. */
export function Startup() {
  const live = useQuery(healthQueries.recoveryLive())
  // `status` turns back to 'error' as soon as one poll fails, so a recovery that goes away is noticed.
  const recoveryUp = live.status === 'success'
  const overview = useQuery({ ...healthQueries.services(), enabled: recoveryUp })

  if (!recoveryUp) {
    return (
      <section className="flex flex-col items-center gap-3 py-24 text-muted">
        <Spinner className="h-8 w-8" />
        <p className="text-lg">Waiting for the recovery service…</p>
        {live.error && <p className="text-sm text-faint">Last attempt: {describeError(live.error)}</p>}
      </section>
    )
  }

  if (!overview.data) {
    if (overview.error) return <ErrorPanel error={overview.error} />
    return (
      <section className="flex items-center justify-center gap-3 py-24 text-muted">
        <Spinner />
        <p>Checking services…</p>
      </section>
    )
  }

  return (
    <section className="space-y-4">
      {isNovaReady(overview.data) && (
        <div role="status" className="rounded-lg border border-emerald-300 bg-emerald-50 px-4 py-3 text-emerald-900 dark:border-emerald-700 dark:bg-emerald-950 dark:text-emerald-200">
          <p className="font-semibold">Nova is ready</p>
          <p className="text-sm opacity-80">Every enabled service answers its readiness probe.</p>
        </div>
      )}
      <div className="flex items-baseline justify-between gap-4">
        <h2 className="text-lg font-semibold">
          {overview.data.ready} of {overview.data.total} services ready
        </h2>
        <p className="text-xs text-muted">
          {overview.data.checked_at && <>checked {new Date(overview.data.checked_at).toLocaleTimeString()}</>}
          {/* Keep the last good table on screen; say that it is stale rather than blanking it. */}
          {overview.error && <span className="text-amber-700 dark:text-amber-400"> · refresh failed: {describeError(overview.error)}</span>}
        </p>
      </div>
      <ServiceTable services={overview.data.services} />
    </section>
  )
}

/** Ready means every service the operator has enabled is ready; disabled (profile off) ones do not count. */
function isNovaReady(overview: ServicesOverview): boolean {
  const enabled = overview.services.filter((service) => service.state !== 'disabled')
  return enabled.length > 0 && enabled.every((service) => service.state === 'ready')
}

function ErrorPanel({ error }: { error: Error }) {
  const needsSecret = error instanceof ApiError && (error.status === 401 || error.status === 403)
  return (
    <section role="alert" className="rounded-lg border border-rose-300 bg-rose-50 px-4 py-3 text-rose-900 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-200">
      <p className="font-semibold">Recovery did not return the service list</p>
      <p className="text-sm">{describeError(error)}</p>
      {needsSecret && <p className="mt-1 text-sm">Enter the admin secret to continue.</p>}
    </section>
  )
}

function describeError(error: Error): string {
  return error instanceof ApiError ? `${error.status} ${error.detail}` : error.message
}
