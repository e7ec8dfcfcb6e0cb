import { useQuery } from '@tanstack/react-query'
import type { ReactNode } from 'react'

import { byteSize, recoveryQueries } from '../../api/recovery'
import { count, dateTime, timeAgo } from '../../format'
import { Panel } from '../Page'
import { Badge, badgeTone } from '../StateBadge'
import { ErrorNotice, Loading } from '../States'

/** Services ready, the database's size, the backups kept, and the operation recovery is running, if any. */
export function RecoveryOverview() {
  const status = useQuery(recoveryQueries.status())
  return (
    <Panel
      title="Overview"
      actions={status.data?.operation ? <Badge className={badgeTone.warn}>{status.data.operation} running</Badge> : null}
    >
      {status.isPending && <Loading label="Asking recovery…" />}
      {status.isError && <ErrorNotice title="Could not read recovery's status" error={status.error} onRetry={() => void status.refetch()} />}
      {status.data && (
        <dl className="grid grid-cols-1 gap-2 sm:grid-cols-3" aria-label="Recovery overview">
          <Figure label="Services ready" value={`${status.data.services_ready} of ${status.data.services_total}`} />
          <Figure
            label="Database"
            value={status.data.database.connected ? byteSize(status.data.database.size_bytes) : 'not connected'}
            detail={status.data.database.connected ? `${count(status.data.database.tables)} tables` : undefined}
          />
          <Figure
            label="Backups"
            value={`${count(status.data.backups.count)} (${byteSize(status.data.backups.total_size_bytes)})`}
            detail={status.data.backups.latest_at ? <span title={dateTime(status.data.backups.latest_at)}>latest {timeAgo(status.data.backups.latest_at)}</span> : 'none yet'}
          />
        </dl>
      )}
    </Panel>
  )
}

function Figure({ label, value, detail }: { label: string; value: string; detail?: ReactNode }) {
  return (
    <div className="rounded-md bg-sunken px-3 py-2">
      <dt className="text-xs text-muted">{label}</dt>
      <dd className="font-semibold tabular-nums">{value}</dd>
      {detail && <dd className="text-xs text-muted">{detail}</dd>}
    </div>
  )
}
