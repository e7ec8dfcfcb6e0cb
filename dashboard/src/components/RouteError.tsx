import { isRouteErrorResponse, Link, useRouteError } from 'react-router'

/** A page that crashed while rendering, or whose chunk failed to load (often: a new build was deployed). */
export function RouteError() {
  const error = useRouteError()
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : String(error)
  return (
    <div role="alert" className="mx-auto max-w-xl space-y-3 px-6 py-16">
      <h1 className="text-xl font-semibold">This page failed to load</h1>
      <p className="font-mono text-sm break-words text-muted">{message}</p>
      <div className="flex gap-4 text-sm font-medium">
        <button type="button" className="text-accent-text underline" onClick={() => window.location.reload()}>
          Reload
        </button>
        <Link to="/" className="text-accent-text underline">
          Go to chat
        </Link>
      </div>
    </div>
  )
}
