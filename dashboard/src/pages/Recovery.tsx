import { useMutation } from '@tanstack/react-query'
import { FileDown } from 'lucide-react'

import { recoveryApi } from '../api/recovery'
import { Button } from '../components/Button'
import { Page, PageHeader } from '../components/Page'
import { BackupsPanel } from '../components/recovery/BackupsPanel'
import { CheckpointSchedulePanel } from '../components/recovery/CheckpointSchedulePanel'
import { EnvFileEditor } from '../components/recovery/EnvFileEditor'
import { FactoryReset } from '../components/recovery/FactoryReset'
import { ManagedServicesPanel } from '../components/recovery/ManagedServicesPanel'
import { RecoveryOverview } from '../components/recovery/RecoveryOverview'
import { toast } from '../toast'

/** Recovery: the stack's overview, backups and restore, checkpoints, factory reset, services, .env, diagnostics. */
export function Component() {
  const diagnostics = useMutation({
    mutationFn: recoveryApi.downloadDiagnostics,
    onSuccess: (file) => toast.success(`Saved ${file}`),
  })
  return (
    <Page>
      <PageHeader
        title="Recovery"
        description="Backups and restore, scheduled checkpoints, factory reset, the services and the .env file."
        actions={
          <Button onClick={() => diagnostics.mutate()} busy={diagnostics.isPending}>
            <FileDown className="h-4 w-4" aria-hidden /> Download diagnostics
          </Button>
        }
      />
      <div className="space-y-6">
        <RecoveryOverview />
        <BackupsPanel />
        <CheckpointSchedulePanel />
        <ManagedServicesPanel />
        <EnvFileEditor />
        <FactoryReset />
      </div>
    </Page>
  )
}
