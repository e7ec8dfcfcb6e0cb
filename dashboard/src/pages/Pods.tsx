import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { ArrowDown, ArrowUp, ChevronDown, ChevronRight, Pencil, Plus, Trash } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import {
  podsApi,
  podsQueries,
  type OnFailure,
  type PipelineRole,
  type PodAgentConfig,
  type PodAgentInfo,
  type PodCreate,
  type PodInfo,
  type RunCondition,
  type SandboxTier,
  type Severity,
} from '../api/pods'
import { Button } from '../components/Button'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { FormError, SelectField, TextArea, TextField } from '../components/Field'
import { Modal } from '../components/Modal'
import { Page, PageHeader } from '../components/Page'
import { Badge, badgeTone } from '../components/StateBadge'
import { EmptyState, ErrorNotice, Loading } from '../components/States'
import { usd } from '../format'
import { toast } from '../toast'

// Choices and limits of nova_contracts.orchestrator (PodCreate, PodAgentConfig, RunCondition).
const ROLES: PipelineRole[] = [
  'context',
  'task',
  'guardrail',
  'code_review',
  'decision',
  'documentation',
  'diagramming',
  'security_review',
  'memory_extraction',
  'passthrough',
]
const ON_FAILURE: OnFailure[] = ['abort', 'skip', 'escalate']
const SEVERITIES: Severity[] = ['low', 'medium', 'high', 'critical']
const SANDBOX: SandboxTier[] = ['isolated', 'workspace', 'nova', 'host']
const SIMPLE_CONDITIONS = ['always', 'never', 'on_flag', 'not_flag', 'has_tag'] as const
const POD_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]*$/
const MAX_AGENTS = 30

/** Pods: list, create, edit, enable/disable, delete, and each pod's agents as an ordered pipeline. */
export function Component() {
  const pods = useQuery(podsQueries.list())
  const [editing, setEditing] = useState<PodInfo | 'new' | null>(null)
  const [deleting, setDeleting] = useState<PodInfo | null>(null)

  return (
    <Page>
      <PageHeader
        title="Pods"
        description="A pod is a pipeline of agents that handles the goals routed to it."
        actions={
          <Button variant="primary" onClick={() => setEditing('new')}>
            <Plus className="h-4 w-4" aria-hidden /> New pod
          </Button>
        }
      />
      {pods.isPending && <Loading label="Loading pods…" />}
      {pods.isError && <ErrorNotice title="Could not load pods" error={pods.error} onRetry={() => void pods.refetch()} />}
      {pods.isSuccess && pods.data.length === 0 && <EmptyState title="No pods yet">Create one to give the pipeline its agents.</EmptyState>}
      {pods.isSuccess && pods.data.length > 0 && (
        <ul className="space-y-3" aria-label="Pods">
          {pods.data.map((pod) => (
            <li key={pod.id}>
              <PodCard pod={pod} onEdit={() => setEditing(pod)} onDelete={() => setDeleting(pod)} />
            </li>
          ))}
        </ul>
      )}
      {editing && <PodEditor pod={editing === 'new' ? null : editing} onClose={() => setEditing(null)} />}
      {deleting && <DeletePod pod={deleting} onClose={() => setDeleting(null)} />}
    </Page>
  )
}

function PodCard({ pod, onEdit, onDelete }: { pod: PodInfo; onEdit: () => void; onDelete: () => void }) {
  const queryClient = useQueryClient()
  const toggle = useMutation({
    mutationFn: () => podsApi.update(pod.id, { enabled: !pod.enabled }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: podsQueries.all }),
  })
  const agents = [...(pod.agents ?? [])].sort((a, b) => a.position - b.position)
  return (
    <article aria-labelledby={`pod-${pod.id}`} className="rounded-lg border border-line bg-panel p-4">
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <h2 id={`pod-${pod.id}`} className="flex flex-wrap items-center gap-2 font-semibold">
            {pod.name}
            <Badge className={pod.enabled ? badgeTone.good : badgeTone.neutral}>{pod.enabled ? 'enabled' : 'disabled'}</Badge>
            {pod.is_default && <Badge className={badgeTone.accent}>default</Badge>}
          </h2>
          {pod.description && <p className="text-sm text-muted">{pod.description}</p>}
          <p className="mt-1 text-xs text-muted">
            priority {pod.priority} · sandbox {pod.sandbox_tier}
            {pod.max_cost_usd != null && <> · budget {usd(pod.max_cost_usd)}</>}
            {(pod.routing_keywords ?? []).length > 0 && <> · keywords {(pod.routing_keywords ?? []).join(', ')}</>}
          </p>
        </div>
        <div className="flex flex-wrap gap-1">
          <Button size="sm" onClick={() => toggle.mutate()} busy={toggle.isPending}>
            {pod.enabled ? 'Disable' : 'Enable'}
          </Button>
          <Button size="sm" variant="ghost" onClick={onEdit} aria-label={`Edit ${pod.name}`}>
            <Pencil className="h-3.5 w-3.5" aria-hidden /> Edit
          </Button>
          <Button size="sm" variant="ghost" onClick={onDelete} aria-label={`Delete ${pod.name}`}>
            <Trash className="h-3.5 w-3.5" aria-hidden /> Delete
          </Button>
        </div>
      </div>
      {agents.length > 0 && (
        <ol className="mt-3 flex flex-wrap items-center gap-1 text-xs" aria-label={`${pod.name} pipeline`}>
          {agents.map((agent, i) => (
            <li key={agent.name} className="flex items-center gap-1">
              {i > 0 && <span aria-hidden className="text-faint">→</span>}
              <span className={`rounded-md border border-line px-2 py-1 ${agent.enabled ? '' : 'text-faint line-through'}`}>
                {agent.name}
                {agent.role !== agent.name && <span className="text-muted"> ({agent.role})</span>}
              </span>
            </li>
          ))}
        </ol>
      )}
    </article>
  )
}

/** An agent as the form holds it: numbers and JSON as typed text until the form is saved. */
interface AgentDraft {
  key: number
  name: string
  role: PipelineRole
  enabled: boolean
  model: string
  temperature: string
  maxTokens: string
  timeoutSeconds: string
  maxRetries: string
  systemPrompt: string
  allowedTools: string
  onFailure: OnFailure
  conditionType: (typeof SIMPLE_CONDITIONS)[number] | 'json'
  conditionValue: string
  conditionJson: string
  outputSchema: string
  artifactType: string
}

let nextKey = 1

function toDraft(agent?: PodAgentInfo): AgentDraft {
  const condition = agent?.run_condition
  const simple = !condition || SIMPLE_CONDITIONS.includes(condition.type as (typeof SIMPLE_CONDITIONS)[number])
  return {
    key: nextKey++,
    name: agent?.name ?? '',
    role: agent?.role ?? 'task',
    enabled: agent?.enabled ?? true,
    model: agent?.model ?? '',
    temperature: String(agent?.temperature ?? 0.3),
    maxTokens: String(agent?.max_tokens ?? 4096),
    timeoutSeconds: String(agent?.timeout_seconds ?? 120),
    maxRetries: String(agent?.max_retries ?? 1),
    systemPrompt: agent?.system_prompt ?? '',
    allowedTools: (agent?.allowed_tools ?? []).join(', '),
    onFailure: agent?.on_failure ?? 'abort',
    conditionType: simple ? ((condition?.type as AgentDraft['conditionType']) ?? 'always') : 'json',
    conditionValue: condition?.value ?? '',
    conditionJson: simple ? '' : JSON.stringify(condition, null, 2),
    outputSchema: agent?.output_schema ? JSON.stringify(agent.output_schema, null, 2) : '',
    artifactType: agent?.artifact_type ?? '',
  }
}

/** The agent as the API takes it, or the first problem with what was typed. */
function fromDraft(draft: AgentDraft, position: number): PodAgentConfig | string {
  const who = draft.name.trim() || `agent ${position + 1}`
  if (!draft.name.trim()) return `Agent ${position + 1} needs a name.`
  const number = (text: string, min: number, max: number, what: string, integer = false) => {
    const value = Number(text)
    if (text.trim() === '' || Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new Error(`${who}: ${what} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}.`)
    }
    return value
  }
  try {
    let runCondition: RunCondition
    if (draft.conditionType === 'json') {
      runCondition = JSON.parse(draft.conditionJson || '{}') as RunCondition
    } else {
      const needsValue = draft.conditionType === 'on_flag' || draft.conditionType === 'not_flag' || draft.conditionType === 'has_tag'
      if (needsValue && !draft.conditionValue.trim()) return `${who}: the run condition ${draft.conditionType} needs a flag or tag.`
      runCondition = { type: draft.conditionType, value: needsValue ? draft.conditionValue.trim() : null, conditions: [] }
    }
    let outputSchema: Record<string, unknown> | null = null
    if (draft.outputSchema.trim()) {
      const parsed: unknown = JSON.parse(draft.outputSchema)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return `${who}: the output schema must be a JSON object.`
      outputSchema = parsed as Record<string, unknown>
    }
    return {
      name: draft.name.trim(),
      role: draft.role,
      enabled: draft.enabled,
      model: draft.model.trim() || null,
      temperature: number(draft.temperature, 0, 2, 'temperature'),
      max_tokens: number(draft.maxTokens, 1, 200_000, 'max tokens', true),
      timeout_seconds: number(draft.timeoutSeconds, 1, 3600, 'timeout'),
      max_retries: number(draft.maxRetries, 0, 10, 'retries', true),
      system_prompt: draft.systemPrompt.trim() || null,
      allowed_tools: draft.allowedTools.split(',').map((t) => t.trim()).filter(Boolean),
      on_failure: draft.onFailure,
      run_condition: runCondition,
      output_schema: outputSchema,
      artifact_type: draft.artifactType.trim() || null,
      position,
    }
  } catch (error) {
    if (error instanceof SyntaxError) return `${who}: ${draft.conditionType === 'json' && !draft.outputSchema.trim() ? 'the run condition' : 'a JSON field'} is not valid JSON (${error.message}).`
    return error instanceof Error ? error.message : String(error)
  }
}

function PodEditor({ pod, onClose }: { pod: PodInfo | null; onClose: () => void }) {
  const queryClient = useQueryClient()
  const [name, setName] = useState(pod?.name ?? '')
  const [description, setDescription] = useState(pod?.description ?? '')
  const [enabled, setEnabled] = useState(pod?.enabled ?? true)
  const [isDefault, setIsDefault] = useState(pod?.is_default ?? false)
  const [defaultModel, setDefaultModel] = useState(pod?.default_model ?? '')
  const [keywords, setKeywords] = useState((pod?.routing_keywords ?? []).join(', '))
  const [regex, setRegex] = useState(pod?.routing_regex ?? '')
  const [priority, setPriority] = useState(String(pod?.priority ?? 0))
  const [sandbox, setSandbox] = useState<SandboxTier>(pod?.sandbox_tier ?? 'workspace')
  const [humanReview, setHumanReview] = useState(pod?.require_human_review ?? false)
  const [threshold, setThreshold] = useState<Severity>(pod?.escalation_threshold ?? 'high')
  const [maxCost, setMaxCost] = useState(pod?.max_cost_usd == null ? '' : String(pod.max_cost_usd))
  const [agents, setAgents] = useState<AgentDraft[]>(() =>
    [...(pod?.agents ?? [])].sort((a, b) => a.position - b.position).map((agent) => toDraft(agent)),
  )
  const [open, setOpen] = useState<number | null>(null)
  const [errors, setErrors] = useState<{ name?: string; priority?: string; maxCost?: string; regex?: string; agents?: string }>({})

  const save = useMutation({
    mutationFn: (body: PodCreate) => (pod ? podsApi.update(pod.id, body) : podsApi.create(body)),
    meta: { errorToast: false },
    onSuccess: (saved) => {
      toast.success(`Pod ${saved.name} saved`)
      void queryClient.invalidateQueries({ queryKey: podsQueries.all })
      onClose()
    },
  })

  function move(index: number, by: -1 | 1) {
    const target = index + by
    if (target < 0 || target >= agents.length) return
    const next = [...agents]
    ;[next[index], next[target]] = [next[target]!, next[index]!]
    setAgents(next)
  }

  function update(key: number, changes: Partial<AgentDraft>) {
    setAgents(agents.map((a) => (a.key === key ? { ...a, ...changes } : a)))
  }

  function submit(event: FormEvent) {
    event.preventDefault()
    const next: typeof errors = {}
    if (!name.trim()) next.name = 'Give the pod a name.'
    else if (name.trim().length > 100 || !POD_NAME.test(name.trim())) next.name = 'Letters, digits, spaces, _ . and -, starting with a letter or digit.'
    const prio = Number(priority)
    if (!Number.isInteger(prio) || prio < -1000 || prio > 1000) next.priority = 'A whole number from -1000 to 1000.'
    const cost = maxCost.trim() === '' ? null : Number(maxCost)
    if (cost !== null && (Number.isNaN(cost) || cost < 0)) next.maxCost = 'A dollar amount, or empty for no limit.'
    if (regex.trim()) {
      try {
        new RegExp(regex)
      } catch {
        next.regex = 'Not a valid regular expression.'
      }
    }
    const built = agents.map((draft, i) => fromDraft(draft, i))
    const problem = built.find((a): a is string => typeof a === 'string')
    if (problem) next.agents = problem
    else if (new Set(agents.map((a) => a.name.trim())).size !== agents.length) next.agents = 'Agent names must be unique within a pod.'
    setErrors(next)
    if (Object.keys(next).length > 0) return
    save.mutate({
      name: name.trim(),
      description: description.trim(),
      enabled,
      is_default: isDefault,
      default_model: defaultModel.trim() || null,
      max_cost_usd: cost,
      max_execution_seconds: pod?.max_execution_seconds ?? null,
      require_human_review: humanReview,
      escalation_threshold: threshold,
      routing_keywords: keywords.split(',').map((k) => k.trim()).filter(Boolean),
      routing_regex: regex.trim() || null,
      priority: prio,
      fallback_pod_id: pod?.fallback_pod_id ?? null,
      sandbox_tier: sandbox,
      agents: built as PodAgentConfig[],
    })
  }

  return (
    <Modal title={pod ? `Edit ${pod.name}` : 'New pod'} onClose={onClose} size="lg">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <div className="grid gap-4 sm:grid-cols-2">
          <TextField label="Name" value={name} error={errors.name} onChange={(e) => setName(e.target.value)} />
          <TextField label="Default model" value={defaultModel} placeholder="the platform default" onChange={(e) => setDefaultModel(e.target.value)} />
        </div>
        <TextField label="Description" value={description} maxLength={2000} onChange={(e) => setDescription(e.target.value)} />
        <div className="grid gap-4 sm:grid-cols-3">
          <TextField label="Routing keywords" value={keywords} hint="Comma-separated." onChange={(e) => setKeywords(e.target.value)} />
          <TextField label="Routing regex" value={regex} error={errors.regex} onChange={(e) => setRegex(e.target.value)} />
          <TextField label="Priority" type="number" value={priority} error={errors.priority} onChange={(e) => setPriority(e.target.value)} />
        </div>
        <div className="grid gap-4 sm:grid-cols-3">
          <SelectField label="Sandbox" value={sandbox} onChange={(e) => setSandbox(e.target.value as SandboxTier)}>
            {SANDBOX.map((tier) => (
              <option key={tier}>{tier}</option>
            ))}
          </SelectField>
          <SelectField label="Escalate at" value={threshold} onChange={(e) => setThreshold(e.target.value as Severity)}>
            {SEVERITIES.map((severity) => (
              <option key={severity}>{severity}</option>
            ))}
          </SelectField>
          <TextField label="Budget (USD)" type="number" min={0} step="0.01" value={maxCost} error={errors.maxCost} onChange={(e) => setMaxCost(e.target.value)} />
        </div>
        <div className="flex flex-wrap gap-x-6 gap-y-2 text-sm">
          <Checkbox label="Enabled" checked={enabled} onChange={setEnabled} />
          <Checkbox label="Default pod" checked={isDefault} onChange={setIsDefault} />
          <Checkbox label="Require human review" checked={humanReview} onChange={setHumanReview} />
        </div>

        <fieldset className="space-y-2">
          <legend className="mb-1 text-sm font-semibold">Pipeline ({agents.length} {agents.length === 1 ? 'agent' : 'agents'})</legend>
          <ol className="space-y-2">
            {agents.map((agent, index) => (
              <li key={agent.key} className="rounded-md border border-line">
                <div className="flex items-center gap-1 p-2">
                  <button
                    type="button"
                    onClick={() => setOpen(open === agent.key ? null : agent.key)}
                    aria-expanded={open === agent.key}
                    className="flex min-w-0 flex-1 items-center gap-2 text-left text-sm"
                  >
                    {open === agent.key ? <ChevronDown className="h-4 w-4 shrink-0" aria-hidden /> : <ChevronRight className="h-4 w-4 shrink-0" aria-hidden />}
                    <span className="text-muted tabular-nums">{index + 1}.</span>
                    <span className={`truncate font-medium ${agent.enabled ? '' : 'text-faint line-through'}`}>{agent.name || 'unnamed agent'}</span>
                    <span className="text-xs text-muted">{agent.role}</span>
                  </button>
                  <Button size="sm" variant="ghost" disabled={index === 0} onClick={() => move(index, -1)} aria-label={`Move ${agent.name || 'agent'} up`}>
                    <ArrowUp className="h-3.5 w-3.5" aria-hidden />
                  </Button>
                  <Button size="sm" variant="ghost" disabled={index === agents.length - 1} onClick={() => move(index, 1)} aria-label={`Move ${agent.name || 'agent'} down`}>
                    <ArrowDown className="h-3.5 w-3.5" aria-hidden />
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => setAgents(agents.filter((a) => a.key !== agent.key))} aria-label={`Remove ${agent.name || 'agent'}`}>
                    <Trash className="h-3.5 w-3.5" aria-hidden />
                  </Button>
                </div>
                {open === agent.key && <AgentFields agent={agent} onChange={(changes) => update(agent.key, changes)} />}
              </li>
            ))}
          </ol>
          <Button
            size="sm"
            disabled={agents.length >= MAX_AGENTS}
            onClick={() => {
              const draft = toDraft()
              setAgents([...agents, draft])
              setOpen(draft.key)
            }}
          >
            <Plus className="h-3.5 w-3.5" aria-hidden /> Add agent
          </Button>
          {errors.agents && <p role="alert" className="text-sm text-rose-700 dark:text-rose-300">{errors.agents}</p>}
        </fieldset>

        <FormError message={save.error ? errorMessage(save.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={save.isPending}>
            {pod ? 'Save pod' : 'Create pod'}
          </Button>
        </div>
      </form>
    </Modal>
  )
}

function Checkbox({ label, checked, onChange }: { label: string; checked: boolean; onChange: (value: boolean) => void }) {
  return (
    <label className="flex items-center gap-2">
      <input type="checkbox" className="accent-teal-600" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      {label}
    </label>
  )
}

function AgentFields({ agent, onChange }: { agent: AgentDraft; onChange: (changes: Partial<AgentDraft>) => void }) {
  const needsValue = agent.conditionType === 'on_flag' || agent.conditionType === 'not_flag' || agent.conditionType === 'has_tag'
  return (
    <div className="space-y-3 border-t border-line p-3">
      <div className="grid gap-3 sm:grid-cols-3">
        <TextField label="Agent name" value={agent.name} onChange={(e) => onChange({ name: e.target.value })} />
        <SelectField label="Role" value={agent.role} onChange={(e) => onChange({ role: e.target.value as PipelineRole })}>
          {ROLES.map((role) => (
            <option key={role}>{role}</option>
          ))}
        </SelectField>
        <TextField label="Model" value={agent.model} placeholder="the pod's default" onChange={(e) => onChange({ model: e.target.value })} />
      </div>
      <TextArea label="System prompt" rows={3} value={agent.systemPrompt} placeholder="the role's built-in prompt" onChange={(e) => onChange({ systemPrompt: e.target.value })} />
      <div className="grid gap-3 sm:grid-cols-2">
        <TextField label="Tools" value={agent.allowedTools} hint="Comma-separated tool names." onChange={(e) => onChange({ allowedTools: e.target.value })} />
        <SelectField label="On failure" value={agent.onFailure} onChange={(e) => onChange({ onFailure: e.target.value as OnFailure })}>
          {ON_FAILURE.map((option) => (
            <option key={option}>{option}</option>
          ))}
        </SelectField>
      </div>
      <div className="grid gap-3 sm:grid-cols-2">
        <SelectField label="Runs" value={agent.conditionType} onChange={(e) => onChange({ conditionType: e.target.value as AgentDraft['conditionType'] })}>
          <option value="always">always</option>
          <option value="never">never</option>
          <option value="on_flag">when a flag is set</option>
          <option value="not_flag">when a flag is not set</option>
          <option value="has_tag">when the task has a tag</option>
          <option value="json">custom (JSON)</option>
        </SelectField>
        {needsValue && (
          <TextField
            label={agent.conditionType === 'has_tag' ? 'Tag' : 'Flag'}
            value={agent.conditionValue}
            hint={agent.conditionType === 'has_tag' ? undefined : 'guardrail_blocked, code_review_passed or code_review_rejected'}
            onChange={(e) => onChange({ conditionValue: e.target.value })}
          />
        )}
      </div>
      {agent.conditionType === 'json' && (
        <TextArea label="Run condition (JSON)" rows={4} value={agent.conditionJson} onChange={(e) => onChange({ conditionJson: e.target.value })} />
      )}
      <TextArea
        label="Output schema (JSON, optional)"
        rows={3}
        value={agent.outputSchema}
        hint="Replaces the role's built-in output schema."
        onChange={(e) => onChange({ outputSchema: e.target.value })}
      />
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-4">
        <TextField label="Temperature" type="number" step="0.1" value={agent.temperature} onChange={(e) => onChange({ temperature: e.target.value })} />
        <TextField label="Max tokens" type="number" value={agent.maxTokens} onChange={(e) => onChange({ maxTokens: e.target.value })} />
        <TextField label="Timeout (s)" type="number" value={agent.timeoutSeconds} onChange={(e) => onChange({ timeoutSeconds: e.target.value })} />
        <TextField label="Retries" type="number" value={agent.maxRetries} onChange={(e) => onChange({ maxRetries: e.target.value })} />
      </div>
      <Checkbox label="Enabled" checked={agent.enabled} onChange={(enabled) => onChange({ enabled })} />
    </div>
  )
}

function DeletePod({ pod, onClose }: { pod: PodInfo; onClose: () => void }) {
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: () => podsApi.remove(pod.id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(`Pod ${pod.name} deleted`)
      void queryClient.invalidateQueries({ queryKey: podsQueries.all })
      onClose()
    },
  })
  return (
    <ConfirmDialog
      title={`Delete ${pod.name}?`}
      confirmLabel="Delete pod"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
      busy={remove.isPending}
      error={remove.error ? errorMessage(remove.error) : null}
    >
      Its {(pod.agents ?? []).length} agents go with it. Goals are routed to the remaining pods.
    </ConfirmDialog>
  )
}
