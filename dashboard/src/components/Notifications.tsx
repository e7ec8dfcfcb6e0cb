import { useQuery, useQueryClient } from '@tanstack/react-query'
import { CircleCheck, CircleExclamationPoint, MessageCircleQuestionMark, X } from 'lucide-react'
import { useEffect, useState } from 'react'
import { Link } from 'react-router'

import { ApiError, getAdminSecret } from '../api/client'
import {
  followNotifications,
  notificationQueries,
  taskLink,
  type PipelineNotification,
  type PipelineNotificationKind,
} from '../api/notifications'
import { pipelineQueries } from '../api/pipeline'

// A finished task is news for a moment; a task waiting for the person stays until they have seen it.
const LIFETIME_MS: Record<PipelineNotificationKind, number> = {
  completed: 8_000,
  failed: 15_000,
  needs_clarification: 30_000,
  needs_review: 30_000,
}
const MAX_VISIBLE = 4
const MAX_BACKOFF_MS = 30_000
// A stream the server refused (401) looks for a different admin secret in storage this often (no request is
// sent), and asks again after the longer wait anyway: a rotated secret may take services a few seconds to accept.
const SECRET_CHECK_MS = 2_000
const REFUSED_RETRY_MS = 5 * 60_000

const HEADLINES: Record<PipelineNotificationKind, string> = {
  completed: 'Task completed',
  failed: 'Task failed',
  needs_clarification: 'Task needs your answers',
  needs_review: 'Task needs your review',
}

interface ShownNotification extends PipelineNotification {
  key: number
}

/**
 * The caller's task notifications on every page: one stream while the dashboard is open, reconnected with
 * backoff, paused while the server refuses the credentials (until another admin secret is entered). Each
 * notification is a toast linking to its task and refreshes the "needs you" count.
 */
export function TaskNotifications() {
  const queryClient = useQueryClient()
  const [shown, setShown] = useState<ShownNotification[]>([])

  useEffect(() => {
    const abort = new AbortController()
    const timers = new Set<ReturnType<typeof setTimeout>>()
    let nextKey = 1

    const dismissLater = (key: number, kind: PipelineNotificationKind) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        setShown((current) => current.filter((n) => n.key !== key))
      }, LIFETIME_MS[kind])
      timers.add(timer)
    }
    const onNotification = (notification: PipelineNotification) => {
      const key = nextKey++
      // A task that goes back and forth is shown once, in its latest state.
      setShown((current) => [...current.filter((n) => n.task_id !== notification.task_id), { ...notification, key }].slice(-MAX_VISIBLE))
      dismissLater(key, notification.kind)
      void queryClient.invalidateQueries({ queryKey: notificationQueries.all })
      void queryClient.invalidateQueries({ queryKey: pipelineQueries.task(notification.task_id).queryKey })
    }

    async function run() {
      let delay = 1_000
      while (!abort.signal.aborted) {
        const secret = getAdminSecret()
        try {
          await followNotifications(abort.signal, onNotification, () => {
            delay = 1_000
            // Whatever happened while disconnected is not replayed: the count is read again.
            void queryClient.invalidateQueries({ queryKey: notificationQueries.all })
          })
        } catch (error) {
          if (abort.signal.aborted) return
          if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
            // Not signed in: asking again at once with the same secret would only be refused again.
            const refusedAt = Date.now()
            while (!abort.signal.aborted && getAdminSecret() === secret && Date.now() - refusedAt < REFUSED_RETRY_MS) {
              await sleep(SECRET_CHECK_MS, abort.signal)
            }
            delay = 1_000
            continue
          }
          await sleep(delay, abort.signal)
          delay = Math.min(delay * 2, MAX_BACKOFF_MS)
        }
      }
    }
    void run()
    return () => {
      abort.abort()
      timers.forEach(clearTimeout)
    }
  }, [queryClient])

  const dismiss = (key: number) => setShown((current) => current.filter((n) => n.key !== key))

  return (
    <div className="pointer-events-none fixed inset-x-0 top-[53px] z-50 flex flex-col items-center gap-2 p-4 sm:items-end md:top-0" aria-label="Task notifications">
      <div aria-live="polite" className="contents">
        {shown.map((notification) => (
          <NotificationCard key={notification.key} notification={notification} onDismiss={() => dismiss(notification.key)} />
        ))}
      </div>
    </div>
  )
}

const CARD_STYLES: Record<PipelineNotificationKind, string> = {
  completed: 'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100',
  failed: 'border-rose-300 bg-rose-50 text-rose-900 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-100',
  needs_clarification: 'border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100',
  needs_review: 'border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100',
}
const CARD_ICONS = {
  completed: CircleCheck,
  failed: CircleExclamationPoint,
  needs_clarification: MessageCircleQuestionMark,
  needs_review: MessageCircleQuestionMark,
}

function NotificationCard({ notification, onDismiss }: { notification: ShownNotification; onDismiss: () => void }) {
  const Icon = CARD_ICONS[notification.kind]
  const headline = HEADLINES[notification.kind]
  return (
    <div
      role="status"
      data-testid="task-notification"
      className={`pointer-events-auto flex w-full max-w-sm items-start gap-2 rounded-lg border px-3 py-2 text-sm shadow-lg ${CARD_STYLES[notification.kind]}`}
    >
      <Icon className="mt-0.5 h-4 w-4 shrink-0" aria-hidden />
      <div className="min-w-0 flex-1">
        <p className="font-semibold">{headline}</p>
        <p className="line-clamp-2 break-words">{notification.goal}</p>
        {notification.kind === 'failed' && notification.detail && <p className="mt-0.5 line-clamp-2 text-xs break-words opacity-80">{notification.detail}</p>}
        <Link to={taskLink(notification.task_id)} onClick={onDismiss} className="mt-1 inline-block font-medium underline">
          Open task
        </Link>
      </div>
      <button type="button" onClick={onDismiss} aria-label="Dismiss" className="rounded p-0.5 opacity-70 hover:opacity-100">
        <X className="h-3.5 w-3.5" aria-hidden />
      </button>
    </div>
  )
}

/** The number of tasks waiting for the person (clarification or review), beside "Tasks" in the navigation. */
export function NeedsYouBadge() {
  const needsYou = useQuery(notificationQueries.needsYouCount())
  const total = needsYou.data ?? 0
  if (total === 0) return null
  return (
    <span
      data-testid="needs-you-count"
      title={`${total} ${total === 1 ? 'task needs' : 'tasks need'} you`}
      className="ml-auto inline-flex min-w-5 items-center justify-center rounded-full bg-amber-500 px-1.5 text-xs font-semibold text-white tabular-nums"
    >
      <span aria-hidden>{total}</span>
      <span className="sr-only">{`${total} ${total === 1 ? 'task needs' : 'tasks need'} you`}</span>
    </span>
  )
}

/** Wait `ms`, or less if `signal` aborts; the abort listener goes with the wait (a long session waits often). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
