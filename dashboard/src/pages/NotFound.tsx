import { Link } from 'react-router'

import { Page, PageHeader } from '../components/Page'

export function NotFound() {
  return (
    <Page>
      <PageHeader title="Page not found" description="There is no dashboard page at this address." />
      <Link to="/" className="text-sm font-medium text-accent-text underline">
        Go to chat
      </Link>
    </Page>
  )
}
