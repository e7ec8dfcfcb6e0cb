import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Library, Pencil, Plus, RefreshCw, Trash } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import {
  mcpApi,
  mcpQueries,
  type McpCatalogEntry,
  type McpServerCreate,
  type McpServerInfo,
  type McpServerState,
  type McpServerUpdate,
  type McpTransport,
} from '../api/mcp'
import { Button } from '../components/Button'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { FormError, TextArea, TextField } from '../components/Field'
import { Modal } from '../components/Modal'
import { Page, PageHeader } from '../components/Page'
import { Spinner } from '../components/Spinner'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { timeAgo } from '../format'
import { toast } from '../toast'

// The rules of nova_contracts.orchestrator.McpServerCreate, checked before sending.
const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/
const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/
const MAX_NAME = 40

const stateTone: Record<McpServerState, string> = {
  connected: badgeTone.good,
  connecting: badgeTone.warn,
  error: badgeTone.bad,
  disabled: badgeTone.neutral,
}

type Editor = { kind: 'custom' } | { kind: 'catalog' } | { kind: 'from-catalog'; entry: McpCatalogEntry } | { kind: 'edit'; server: McpServerInfo }

/** MCP tool servers: status and tools, add from the catalog or by hand, edit, reload, remove. */
export function Component() {
  const servers = useQuery(mcpQueries.servers())
  const [editor, setEditor] = useState<Editor | null>(null)
  const [removing, setRemoving] = useState<McpServerInfo | null>(null)

  return (
    <Page>
      <PageHeader
        title="MCP servers"
        description="Tool servers speaking the Model Context Protocol; their tools become available to agents."
        actions={
          <>
            <Button onClick={() => setEditor({ kind: 'catalog' })}>
              <Library className="h-4 w-4" aria-hidden />
              Add from catalog
            </Button>
            <Button variant="primary" onClick={() => setEditor({ kind: 'custom' })}>
              <Plus className="h-4 w-4" aria-hidden />
              Add custom server
            </Button>
          </>
        }
      />
      {servers.isPending && <Loading label="Loading servers…" />}
      {servers.isError && <ErrorNotice title="Could not load MCP servers" error={servers.error} onRetry={() => void servers.refetch()} />}
      {servers.isSuccess && servers.data.length === 0 && (
        <EmptyState title="No MCP servers yet">Add one from the catalog, or register your own command or URL.</EmptyState>
      )}
      {servers.isSuccess && servers.data.length > 0 && (
        <ul className="space-y-3" aria-label="MCP servers">
          {servers.data.map((server) => (
            <li key={server.id}>
              <ServerCard server={server} onEdit={() => setEditor({ kind: 'edit', server })} onRemove={() => setRemoving(server)} />
            </li>
          ))}
        </ul>
      )}

      {editor?.kind === 'catalog' && (
        <CatalogPicker onPick={(entry) => setEditor({ kind: 'from-catalog', entry })} onClose={() => setEditor(null)} />
      )}
      {editor?.kind === 'custom' && <ServerForm mode={{ kind: 'create' }} onClose={() => setEditor(null)} />}
      {editor?.kind === 'from-catalog' && <ServerForm mode={{ kind: 'create', entry: editor.entry }} onClose={() => setEditor(null)} />}
      {editor?.kind === 'edit' && <ServerForm mode={{ kind: 'edit', server: editor.server }} onClose={() => setEditor(null)} />}
      {removing && <RemoveServer server={removing} onClose={() => setRemoving(null)} />}
    </Page>
  )
}

function ServerCard({ server, onEdit, onRemove }: { server: McpServerInfo; onEdit: () => void; onRemove: () => void }) {
  const queryClient = useQueryClient()
  const tools = server.tools ?? []
  const refresh = () => queryClient.invalidateQueries({ queryKey: mcpQueries.all })
  const reload = useMutation({
    mutationFn: () => mcpApi.reload(server.id),
    onSuccess: (updated) => {
      void refresh()
      if (updated.state === 'error') toast.error(`${server.name}: ${updated.error ?? 'failed to connect'}`)
      else toast.success(`${server.name} reloaded: ${(updated.tools ?? []).length} tools`)
    },
  })
  const toggle = useMutation({
    mutationFn: () => mcpApi.update(server.id, { enabled: !server.enabled }),
    onSuccess: () => void refresh(),
  })
  const target = server.transport === 'http' ? server.url : [server.command, ...(server.args ?? [])].join(' ')

  return (
    <article className="rounded-lg border border-line bg-panel p-4" aria-labelledby={`mcp-${server.id}`}>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <h2 id={`mcp-${server.id}`} className="flex flex-wrap items-center gap-2 font-semibold">
            {server.name}
            <Badge className={stateTone[server.state]}>
              {server.state === 'connecting' && <Spinner className="mr-1 h-2.5 w-2.5" label={null} />}
              {server.state}
            </Badge>
            <span className="text-xs font-normal text-muted">
              {tools.length} {tools.length === 1 ? 'tool' : 'tools'}
            </span>
          </h2>
          {server.description && <p className="text-sm text-muted">{server.description}</p>}
          <p className="mt-1 font-mono text-xs break-all text-muted">
            {server.transport} · {target}
            {(server.env_keys ?? []).length > 0 && <> · env {(server.env_keys ?? []).join(', ')}</>}
          </p>
        </div>
        <div className="flex flex-wrap gap-1">
          <Button size="sm" onClick={() => reload.mutate()} busy={reload.isPending} disabled={!server.enabled} aria-label={`Reload ${server.name}`}>
            <RefreshCw className="h-3.5 w-3.5" aria-hidden /> Reload
          </Button>
          <Button size="sm" onClick={() => toggle.mutate()} busy={toggle.isPending}>
            {server.enabled ? 'Disable' : 'Enable'}
          </Button>
          <Button size="sm" variant="ghost" onClick={onEdit} aria-label={`Edit ${server.name}`}>
            <Pencil className="h-3.5 w-3.5" aria-hidden /> Edit
          </Button>
          <Button size="sm" variant="ghost" onClick={onRemove} aria-label={`Remove ${server.name}`}>
            <Trash className="h-3.5 w-3.5" aria-hidden /> Remove
          </Button>
        </div>
      </div>
      {server.state === 'error' && server.error && (
        <p role="status" className="mt-3 rounded-md bg-rose-50 px-3 py-2 font-mono text-xs break-words whitespace-pre-wrap text-rose-900 dark:bg-rose-950 dark:text-rose-100">
          {server.error}
        </p>
      )}
      {tools.length > 0 && (
        <details className="mt-3 text-sm">
          <summary className="cursor-pointer text-muted hover:text-fg">
            Tools{server.connected_at && <> · connected {timeAgo(server.connected_at)}</>}
          </summary>
          <ul className="mt-2 space-y-1">
            {tools.map((tool) => (
              <li key={tool.name}>
                <code className="font-mono text-xs">{tool.tool}</code>
                {tool.description && <span className="text-muted"> — {tool.description}</span>}
              </li>
            ))}
          </ul>
        </details>
      )}
    </article>
  )
}

function CatalogPicker({ onPick, onClose }: { onPick: (entry: McpCatalogEntry) => void; onClose: () => void }) {
  const catalog = useQuery(mcpQueries.catalog())
  const categories = [...new Set((catalog.data ?? []).map((entry) => entry.category))]
  return (
    <Modal title="Add from catalog" onClose={onClose} size="lg">
      {catalog.isPending && <Loading label="Loading the catalog…" />}
      {catalog.isError && <ErrorNotice title="Could not load the catalog" error={catalog.error} onRetry={() => void catalog.refetch()} />}
      <div className="space-y-4">
        {categories.map((category) => (
          <section key={category}>
            <h3 className="mb-1 text-xs font-semibold tracking-wide text-muted uppercase">{category}</h3>
            <ul className="grid gap-2 sm:grid-cols-2">
              {catalog.data
                ?.filter((entry) => entry.category === category)
                .map((entry) => (
                  <li key={entry.name}>
                    <button
                      type="button"
                      onClick={() => onPick(entry)}
                      className="h-full w-full rounded-md border border-line p-3 text-left hover:border-teal-500 hover:bg-sunken"
                    >
                      <span className="block text-sm font-medium">{entry.title}</span>
                      <span className="block text-xs text-muted">{entry.description}</span>
                      {(entry.required_env ?? []).length > 0 && (
                        <span className="mt-1 block font-mono text-[11px] text-muted">needs {(entry.required_env ?? []).join(', ')}</span>
                      )}
                    </button>
                  </li>
                ))}
            </ul>
          </section>
        ))}
      </div>
    </Modal>
  )
}

type FormMode = { kind: 'create'; entry?: McpCatalogEntry } | { kind: 'edit'; server: McpServerInfo }

interface FormErrors {
  name?: string
  command?: string
  url?: string
  env?: string
}

/** Parses `KEY=value` lines; returns the map or the first problem. */
export function parseEnv(text: string): { env: Record<string, string> } | { error: string } {
  const env: Record<string, string> = {}
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (!line) continue
    const eq = line.indexOf('=')
    const key = eq === -1 ? line : line.slice(0, eq).trim()
    if (eq === -1 || !ENV_KEY_PATTERN.test(key)) return { error: `Line ${index + 1}: write KEY=value (letters, digits and _ in the key).` }
    env[key] = line.slice(eq + 1)
  }
  return { env }
}

function ServerForm({ mode, onClose }: { mode: FormMode; onClose: () => void }) {
  const queryClient = useQueryClient()
  const server = mode.kind === 'edit' ? mode.server : undefined
  const entry = mode.kind === 'create' ? mode.entry : undefined
  const requiredEnv = entry?.required_env ?? []

  const [name, setName] = useState(server?.name ?? entry?.name ?? '')
  const [description, setDescription] = useState(server?.description ?? entry?.description ?? '')
  const [transport, setTransport] = useState<McpTransport>(server?.transport ?? entry?.transport ?? 'stdio')
  const [command, setCommand] = useState(server?.command ?? entry?.command ?? '')
  const [args, setArgs] = useState((server?.args ?? entry?.args ?? []).join('\n'))
  const [url, setUrl] = useState(server?.url ?? '')
  const [envText, setEnvText] = useState(requiredEnv.map((key) => `${key}=`).join('\n'))
  const [errors, setErrors] = useState<FormErrors>({})

  const save = useMutation({
    mutationFn: (body: McpServerCreate | McpServerUpdate) =>
      server ? mcpApi.update(server.id, body as McpServerUpdate) : mcpApi.create(body as McpServerCreate),
    meta: { errorToast: false },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: mcpQueries.all })
      if (saved.state === 'error') toast.error(`${saved.name} was saved but did not connect: ${saved.error ?? 'unknown error'}`)
      else toast.success(`${saved.name} saved`)
      onClose()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: FormErrors = {}
    if (!server) {
      if (!name) next.name = 'Give the server a name.'
      else if (name.length > MAX_NAME || !NAME_PATTERN.test(name)) next.name = `Lower-case letters, digits, - and _, starting with a letter or digit; at most ${MAX_NAME}.`
    }
    if (transport === 'stdio' && !command.trim()) next.command = 'The program to start, e.g. npx or uvx.'
    if (transport === 'http' && !/^https?:\/\/\S+$/.test(url.trim())) next.url = 'An http:// or https:// URL.'
    const parsedEnv = parseEnv(envText)
    if ('error' in parsedEnv) next.env = parsedEnv.error
    else {
      const missing = requiredEnv.filter((key) => !parsedEnv.env[key])
      if (missing.length > 0) next.env = `Fill in ${missing.join(', ')}.`
    }
    setErrors(next)
    if (Object.keys(next).length > 0 || 'error' in parsedEnv) return

    const argList = args.split('\n').map((line) => line.trim()).filter(Boolean)
    const common = {
      description: description.trim(),
      transport,
      command: transport === 'stdio' ? command.trim() : null,
      args: transport === 'stdio' ? argList : [],
      url: transport === 'http' ? url.trim() : null,
    }
    const envChanged = Object.keys(parsedEnv.env).length > 0
    if (server) {
      // Env values are never sent back by the API; an empty box keeps the server's current ones.
      save.mutate({ ...common, ...(envChanged ? { env: parsedEnv.env } : {}) })
    } else {
      save.mutate({ name, ...common, env: parsedEnv.env, enabled: true, metadata: entry ? { catalog: entry.name } : {} })
    }
  }

  const title = server ? `Edit ${server.name}` : entry ? `Add ${entry.title}` : 'Add custom server'
  return (
    <Modal title={title} onClose={onClose} size="lg">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <div className="grid gap-4 sm:grid-cols-2">
          <TextField
            label="Name"
            value={name}
            error={errors.name}
            disabled={Boolean(server)}
            hint={server ? 'The name cannot be changed; agents call its tools by it.' : 'Agents see its tools as mcp__<name>__<tool>.'}
            onChange={(event) => setName(event.target.value)}
          />
          <TextField label="Description" value={description} maxLength={2000} onChange={(event) => setDescription(event.target.value)} />
        </div>
        <fieldset>
          <legend className="mb-1 text-sm font-medium">Transport</legend>
          <div className="flex gap-4 text-sm">
            {(['stdio', 'http'] as const).map((option) => (
              <label key={option} className="flex items-center gap-2">
                <input type="radio" name="transport" value={option} checked={transport === option} onChange={() => setTransport(option)} />
                {option === 'stdio' ? 'Command (stdio)' : 'URL (streamable HTTP)'}
              </label>
            ))}
          </div>
        </fieldset>
        {transport === 'stdio' ? (
          <div className="grid gap-4 sm:grid-cols-2">
            <TextField label="Command" value={command} error={errors.command} placeholder="npx" onChange={(event) => setCommand(event.target.value)} />
            <TextArea label="Arguments" hint="One per line." rows={3} value={args} onChange={(event) => setArgs(event.target.value)} />
          </div>
        ) : (
          <TextField label="URL" type="url" value={url} error={errors.url} placeholder="https://example.com/mcp" onChange={(event) => setUrl(event.target.value)} />
        )}
        <TextArea
          label="Environment"
          rows={3}
          value={envText}
          error={errors.env}
          placeholder="API_TOKEN=…"
          hint={
            server && (server.env_keys ?? []).length > 0
              ? `KEY=value per line. Leave empty to keep the current values of ${(server.env_keys ?? []).join(', ')}.`
              : 'KEY=value per line; values are stored on the server and never shown again.'
          }
          onChange={(event) => setEnvText(event.target.value)}
        />
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={save.isPending}>
            {server ? 'Save' : 'Add server'}
          </Button>
        </div>
      </form>
    </Modal>
  )
}

function RemoveServer({ server, onClose }: { server: McpServerInfo; onClose: () => void }) {
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: () => mcpApi.remove(server.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(`${server.name} removed`)
      void queryClient.invalidateQueries({ queryKey: mcpQueries.all })
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title={`Remove ${server.name}?`}
      confirmLabel="Remove server"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      busy={remove.isPending}
      error={remove.error ? errorMessage(remove.error) : null}
    >
      The server is disconnected and its {(server.tools ?? []).length} tools disappear from every agent.
    </ConfirmDialog>
  )
}
