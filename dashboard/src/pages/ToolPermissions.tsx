import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Link } from 'react-router'

import { toolQueries, toolsApi, type ToolGroupInfo, type ToolPermissions } from '../api/tools'
import { Page, PageHeader } from '../components/Page'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { toast } from '../toast'

/** Tools: every tool agents can call, by group; the admin switches built-in groups on and off. */
export function Component() {
  const catalog = useQuery(toolQueries.catalog())
  const permissions = useQuery(toolQueries.permissions())

  return (
    <Page>
      <PageHeader
        title="Tools"
        description="What agents may call. A group switched off is neither offered to agents nor run if asked for; the change applies to the next tool call."
      />
      {(catalog.isPending || permissions.isPending) && <Loading label="Loading tools…" />}
      {catalog.isError && <ErrorNotice title="Could not load the tools" error={catalog.error} onRetry={() => void catalog.refetch()} />}
      {!catalog.isError && permissions.isError && (
        <ErrorNotice title="Could not load the tool permissions" error={permissions.error} onRetry={() => void permissions.refetch()} />
      )}
      {catalog.isSuccess && permissions.isSuccess && catalog.data.length === 0 && <EmptyState title="No tools" />}
      {catalog.isSuccess && permissions.isSuccess && catalog.data.length > 0 && (
        <div className="space-y-4">
          {catalog.data.map((group) => (
            <ToolGroupCard key={group.name} group={group} permissions={permissions.data} />
          ))}
        </div>
      )}
    </Page>
  )
}

function ToolGroupCard({ group, permissions }: { group: ToolGroupInfo; permissions: ToolPermissions }) {
  const queryClient = useQueryClient()
  // Only built-in groups have a permission; an MCP server's tools come and go with the server.
  const switchable = group.name in permissions.groups
  const enabled = switchable ? permissions.groups[group.name] : group.enabled
  const toggle = useMutation({
    mutationFn: (on: boolean) => toolsApi.setGroups({ [group.name]: on }),
    onSuccess: (next) => {
      queryClient.setQueryData(toolQueries.permissions().queryKey, next)
      toast.success(`${group.name} tools ${next.groups[group.name] ? 'switched on' : 'switched off'}`)
      void queryClient.invalidateQueries({ queryKey: toolQueries.all })
    },
  })
  const tools = group.tools ?? []
  const headingId = `tool-group-${group.name}`

  return (
    <section aria-labelledby={headingId} className="rounded-lg border border-line bg-panel p-4">
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <h2 id={headingId} className="font-semibold">
            {group.name}
          </h2>
          {group.description && <p className="text-sm text-muted">{group.description}</p>}
        </div>
        {switchable ? (
          <label className="flex cursor-pointer items-center gap-2 text-sm font-medium">
            <input
              type="checkbox"
              role="switch"
              checked={enabled}
              disabled={toggle.isPending}
              aria-label={`${group.name} tools enabled`}
              onChange={(event) => toggle.mutate(event.target.checked)}
              className="h-4 w-4 accent-teal-600"
            />
            {enabled ? 'On' : 'Off'}
          </label>
        ) : (
          <span className="text-xs text-muted">
            Managed on the <Link to="/mcp" className="underline">MCP page</Link>
          </span>
        )}
      </div>
      {tools.length > 0 && (
        <ul aria-label={`${group.name} tools`} className="mt-3 divide-y divide-line border-t border-line">
          {tools.map((tool) => (
            <li key={tool.name} className={`flex flex-wrap items-baseline gap-x-3 gap-y-1 py-2 text-sm ${enabled ? '' : 'text-muted'}`}>
              <code className="font-mono text-xs">{tool.name}</code>
              <span className="min-w-0 flex-1 text-muted">{tool.description}</span>
              {!enabled && <Badge className={badgeTone.neutral}>off</Badge>}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
