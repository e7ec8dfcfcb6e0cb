import { Page, PageHeader } from '../components/Page'
import { Startup } from './Startup'

export function Component() {
  return (
    <Page>
      <PageHeader title="Status" description="Every service of the stack, as the recovery service probes it." />
      <Startup />
    </Page>
  )
}
