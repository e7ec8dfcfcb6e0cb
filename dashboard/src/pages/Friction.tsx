import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Wrench } from 'lucide-react'
import { useState } from 'react'
import { Link } from 'react-router'

import { errorMessage } from '../api/client'
import { frictionApi, frictionQueries, FRICTION_STATUSES, type FrictionInfo, type FrictionStatus } from '../api/friction'
import { taskLink } from '../api/notifications'
import { Button } from '../components/Button'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { SelectField } from '../components/Field'
import { Modal } from '../components/Modal'
import { Page, PageHeader } from '../components/Page'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { dateTime, timeAgo } from '../format'
import { toast } from '../toast'

const STATUS_TONE: Record<FrictionStatus, string> = {
  open: badgeTone.warn,
  fixing: badgeTone.accent,
  fixed: badgeTone.good,
  dismissed: badgeTone.neutral,
}

/** Friction: what went wrong on which page, its status, and "Fix this", which hands a report to the pipeline. */
export function Component() {
  const [status, setStatus] = useState<FrictionStatus | ''>('')
  const reports = useQuery(frictionQueries.list(status || undefined))
  const [deleting, setDeleting] = useState<FrictionInfo | null>(null)
  const [viewing, setViewing] = useState<FrictionInfo | null>(null)

  return (
    <Page>
      <PageHeader
        title="Friction"
        description="Reports filed with “Something went wrong here” from any page. “Fix this” submits a pipeline task with the report as its context."
        actions={
          <SelectField label="Status" value={status} onChange={(event) => setStatus(event.target.value as FrictionStatus | '')} className="w-40">
            <option value="">Any</option>
            {FRICTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </SelectField>
        }
      />
      {reports.isPending && <Loading label="Loading reports…" />}
      {reports.isError && <ErrorNotice title="Could not load the reports" error={reports.error} onRetry={() => void reports.refetch()} />}
      {reports.isSuccess && reports.data.length === 0 && (
        <EmptyState title={status ? `No ${status} reports` : 'No reports yet'}>
          Use “Something went wrong here” in the sidebar when a page does not do what you expect.
        </EmptyState>
      )}
      {reports.isSuccess && reports.data.length > 0 && (
        <ul aria-label="Friction reports" className="space-y-3">
          {reports.data.map((report) => (
            <ReportItem key={report.id} report={report} onDelete={() => setDeleting(report)} onView={() => setViewing(report)} />
          ))}
        </ul>
      )}
      {deleting && <DeleteReport report={deleting} onClose={() => setDeleting(null)} />}
      {viewing && <ScreenshotDialog report={viewing} onClose={() => setViewing(null)} />}
    </Page>
  )
}

function ReportItem({ report, onDelete, onView }: { report: FrictionInfo; onDelete: () => void; onView: () => void }) {
  const queryClient = useQueryClient()
  const refresh = () => queryClient.invalidateQueries({ queryKey: frictionQueries.all })
  const setStatus = useMutation({
    mutationFn: (status: FrictionStatus) => frictionApi.setStatus(report.id, status),
    onSuccess: (updated) => {
      toast.success(`Report marked ${updated.status}`)
      void refresh()
    },
  })
  const fix = useMutation({
    mutationFn: () => frictionApi.fix(report.id),
    onSuccess: () => {
      toast.success('A pipeline task is fixing this report')
      void refresh()
    },
  })

  return (
    <li className="rounded-lg border border-line bg-panel p-4">
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0 flex-1 space-y-1">
          <p className="text-sm break-words whitespace-pre-wrap">{report.text}</p>
          <p className="text-xs text-muted">
            {/* Only a path of this dashboard becomes a link: the page is whatever the reporter's client sent. */}
            {/^\/(?!\/)/.test(report.page) ? (
              <>
                on <Link to={report.page} className="font-mono underline">{report.page}</Link>{' '}
              </>
            ) : report.page ? (
              <>on <span className="font-mono">{report.page}</span> </>
            ) : null}
            <span title={dateTime(report.created_at)}>{timeAgo(report.created_at)}</span>
            {report.owner !== 'admin' && <> · by {report.owner}</>}
          </p>
        </div>
        <Badge className={STATUS_TONE[report.status]}>{report.status}</Badge>
      </div>
      <div className="mt-3 flex flex-wrap items-end gap-2">
        <SelectField
          label={<span className="sr-only">Status of this report</span>}
          aria-label="Status of this report"
          value={report.status}
          disabled={setStatus.isPending}
          onChange={(event) => setStatus.mutate(event.target.value as FrictionStatus)}
          className="w-36"
        >
          {FRICTION_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </SelectField>
        {report.task_id ? (
          <Link to={taskLink(report.task_id)} className="rounded-md px-3 py-1.5 text-sm font-medium text-accent-text underline">
            Open fix task
          </Link>
        ) : (
          <Button variant="primary" onClick={() => fix.mutate()} busy={fix.isPending} disabled={report.status === 'fixed' || report.status === 'dismissed'}>
            <Wrench className="h-4 w-4" aria-hidden />
            Fix this
          </Button>
        )}
        {report.has_screenshot && (
          <Button onClick={onView}>View screenshot</Button>
        )}
        <Button variant="ghost" onClick={onDelete} aria-label="Delete report">
          Delete
        </Button>
      </div>
    </li>
  )
}

function ScreenshotDialog({ report, onClose }: { report: FrictionInfo; onClose: () => void }) {
  // The list leaves screenshots out; the report itself carries it.
  const full = useQuery(frictionQueries.report(report.id))
  return (
    <Modal title="Screenshot" onClose={onClose} size="lg">
      {full.isPending && <Loading label="Loading the screenshot…" />}
      {full.isError && <ErrorNotice title="Could not load the screenshot" error={full.error} onRetry={() => void full.refetch()} />}
      {full.isSuccess &&
        (full.data.screenshot ? (
          <img src={full.data.screenshot} alt={`What ${report.page || 'the page'} looked like when it was reported`} className="w-full rounded-md border border-line" />
        ) : (
          <p className="text-sm text-muted">This report has no screenshot.</p>
        ))}
    </Modal>
  )
}

function DeleteReport({ report, onClose }: { report: FrictionInfo; onClose: () => void }) {
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: () => frictionApi.remove(report.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Report deleted')
      void queryClient.invalidateQueries({ queryKey: frictionQueries.all })
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title="Delete this report?"
      confirmLabel="Delete report"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      busy={remove.isPending}
      error={remove.error ? errorMessage(remove.error) : null}
    >
      “{report.text.length > 120 ? `${report.text.slice(0, 120)}…` : report.text}” and its screenshot are removed. A fix task already submitted keeps running.
    </ConfirmDialog>
  )
}
