import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Plus } from 'lucide-react'
import { useState, type FormEvent } from 'react'

import { errorMessage } from '../api/client'
import { skillQueries, skillsApi, type RuleInfo, type SkillInfo } from '../api/skills'
import { toast } from '../toast'
import { Button } from './Button'
import { ConfirmDialog } from './ConfirmDialog'
import { FormError, TextArea, TextField } from './Field'
import { Modal } from './Modal'
import { Panel } from './Page'
import { Badge, badgeTone } from './StateBadge'
import { EmptyState, ErrorNotice, Loading } from './States'

// The limits of nova_contracts.orchestrator.SkillCreate / RuleCreate, checked before sending.
const NAME_PATTERN = /^[A-Za-z0-9_.\- ]+$/
const MAX_NAME = 100
const MAX_SKILL_CONTENT = 20_000
const MAX_RULE_TEXT = 2000

type Editing<T> = { item: T | null } | null

/** Settings → skills (instruction snippets agents and pods include) and rules (constraints, optionally enforced). */
export function SkillsRulesSettings() {
  return (
    <>
      <SkillsPanel />
      <RulesPanel />
    </>
  )
}

function nameError(name: string): string | undefined {
  if (!name) return 'Give it a name.'
  if (name.length > MAX_NAME) return `At most ${MAX_NAME} characters.`
  if (!NAME_PATTERN.test(name)) return 'Letters, digits, spaces and . _ - only.'
  return undefined
}

function useRefresh() {
  const queryClient = useQueryClient()
  return () => queryClient.invalidateQueries({ queryKey: skillQueries.all })
}

function SkillsPanel() {
  const skills = useQuery(skillQueries.skills())
  const [editing, setEditing] = useState<Editing<SkillInfo>>(null)
  const [deleting, setDeleting] = useState<SkillInfo | null>(null)
  const refresh = useRefresh()
  const remove = useMutation({
    mutationFn: (id: string) => skillsApi.removeSkill(id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Skill deleted')
      setDeleting(null)
      void refresh()
    },
  })
  const toggle = useMutation({
    mutationFn: (skill: SkillInfo) => skillsApi.updateSkill(skill.id, { enabled: !skill.enabled }),
    onSuccess: () => void refresh(),
  })

  return (
    <Panel
      title="Skills"
      actions={
        <Button size="sm" onClick={() => setEditing({ item: null })}>
          <Plus className="h-3.5 w-3.5" aria-hidden />
          New skill
        </Button>
      }
    >
      <p className="mb-3 text-sm text-muted">Reusable instructions an agent or a pod includes by name.</p>
      {skills.isPending && <Loading label="Loading skills…" />}
      {skills.isError && <ErrorNotice title="Could not load the skills" error={skills.error} onRetry={() => void skills.refetch()} />}
      {skills.isSuccess && skills.data.length === 0 && <EmptyState title="No skills yet" />}
      {skills.isSuccess && skills.data.length > 0 && (
        <ul aria-label="Skills" className="divide-y divide-line">
          {skills.data.map((skill) => (
            <ItemRow
              key={skill.id}
              name={skill.name}
              summary={skill.description || skill.content}
              enabled={skill.enabled}
              onToggle={() => toggle.mutate(skill)}
              onEdit={() => setEditing({ item: skill })}
              onDelete={() => setDeleting(skill)}
            />
          ))}
        </ul>
      )}
      {editing && <SkillDialog skill={editing.item} onClose={() => setEditing(null)} />}
      {deleting && (
        <ConfirmDialog
          title={`Delete the skill “${deleting.name}”?`}
          confirmLabel="Delete skill"
          onConfirm={() => remove.mutate(deleting.id)}
          onCancel={() => setDeleting(null)}
          busy={remove.isPending}
          error={remove.error ? errorMessage(remove.error) : null}
        >
          Agents and pods that include it no longer get its instructions.
        </ConfirmDialog>
      )}
    </Panel>
  )
}

function RulesPanel() {
  const rules = useQuery(skillQueries.rules())
  const [editing, setEditing] = useState<Editing<RuleInfo>>(null)
  const [deleting, setDeleting] = useState<RuleInfo | null>(null)
  const refresh = useRefresh()
  const remove = useMutation({
    mutationFn: (id: string) => skillsApi.removeRule(id),
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success('Rule deleted')
      setDeleting(null)
      void refresh()
    },
  })
  const toggle = useMutation({
    mutationFn: (rule: RuleInfo) => skillsApi.updateRule(rule.id, { enabled: !rule.enabled }),
    onSuccess: () => void refresh(),
  })

  return (
    <Panel
      title="Rules"
      actions={
        <Button size="sm" onClick={() => setEditing({ item: null })}>
          <Plus className="h-3.5 w-3.5" aria-hidden />
          New rule
        </Button>
      }
    >
      <p className="mb-3 text-sm text-muted">
        Constraints every agent is told. With a tool or argument pattern a rule is also enforced: a matching tool call is refused
        before it runs, and the refusal names the rule in the task's timeline.
      </p>
      {rules.isPending && <Loading label="Loading rules…" />}
      {rules.isError && <ErrorNotice title="Could not load the rules" error={rules.error} onRetry={() => void rules.refetch()} />}
      {rules.isSuccess && rules.data.length === 0 && <EmptyState title="No rules yet" />}
      {rules.isSuccess && rules.data.length > 0 && (
        <ul aria-label="Rules" className="divide-y divide-line">
          {rules.data.map((rule) => (
            <ItemRow
              key={rule.id}
              name={rule.name}
              summary={rule.description}
              detail={[rule.tool_pattern && `tool ~ ${rule.tool_pattern}`, rule.argument_pattern && `arguments ~ ${rule.argument_pattern}`].filter(Boolean).join(' · ')}
              enforced={Boolean(rule.tool_pattern || rule.argument_pattern)}
              enabled={rule.enabled}
              onToggle={() => toggle.mutate(rule)}
              onEdit={() => setEditing({ item: rule })}
              onDelete={() => setDeleting(rule)}
            />
          ))}
        </ul>
      )}
      {editing && <RuleDialog rule={editing.item} onClose={() => setEditing(null)} />}
      {deleting && (
        <ConfirmDialog
          title={`Delete the rule “${deleting.name}”?`}
          confirmLabel="Delete rule"
          onConfirm={() => remove.mutate(deleting.id)}
          onCancel={() => setDeleting(null)}
          busy={remove.isPending}
          error={remove.error ? errorMessage(remove.error) : null}
        >
          Agents are no longer told it, and tool calls it blocked are allowed again.
        </ConfirmDialog>
      )}
    </Panel>
  )
}

function ItemRow(props: {
  name: string
  summary: string
  detail?: string
  enforced?: boolean
  enabled: boolean
  onToggle: () => void
  onEdit: () => void
  onDelete: () => void
}) {
  return (
    <li className="flex flex-wrap items-start justify-between gap-3 py-2">
      <div className="min-w-0 flex-1">
        <p className="flex flex-wrap items-center gap-2 text-sm font-medium">
          {props.name}
          {!props.enabled && <Badge className={badgeTone.neutral}>off</Badge>}
          {props.enforced && <Badge className={badgeTone.accent}>enforced</Badge>}
        </p>
        <p className="line-clamp-2 text-sm text-muted">{props.summary}</p>
        {props.detail && <p className="font-mono text-xs break-all text-muted">{props.detail}</p>}
      </div>
      <div className="flex shrink-0 items-center gap-1">
        <label className="flex items-center gap-1.5 text-xs text-muted">
          <input type="checkbox" role="switch" checked={props.enabled} onChange={props.onToggle} aria-label={`${props.name} enabled`} className="accent-teal-600" />
          On
        </label>
        <Button size="sm" variant="ghost" onClick={props.onEdit} aria-label={`Edit ${props.name}`}>
          Edit
        </Button>
        <Button size="sm" variant="ghost" onClick={props.onDelete} aria-label={`Delete ${props.name}`}>
          Delete
        </Button>
      </div>
    </li>
  )
}

function SkillDialog({ skill, onClose }: { skill: SkillInfo | null; onClose: () => void }) {
  const refresh = useRefresh()
  const [form, setForm] = useState({ name: skill?.name ?? '', description: skill?.description ?? '', content: skill?.content ?? '' })
  const [errors, setErrors] = useState<{ name?: string; content?: string }>({})
  const save = useMutation({
    mutationFn: () => {
      const body = { name: form.name.trim(), description: form.description.trim(), content: form.content }
      return skill ? skillsApi.updateSkill(skill.id, body) : skillsApi.createSkill({ ...body, enabled: true })
    },
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(skill ? 'Skill saved' : 'Skill created')
      void refresh()
      onClose()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next = {
      name: nameError(form.name.trim()),
      content: !form.content.trim() ? 'Write the instructions.' : form.content.length > MAX_SKILL_CONTENT ? `At most ${MAX_SKILL_CONTENT.toLocaleString()} characters.` : undefined,
    }
    setErrors(next)
    if (!next.name && !next.content) save.mutate()
  }

  return (
    <Modal title={skill ? `Edit skill “${skill.name}”` : 'New skill'} onClose={onClose} size="lg">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <TextField label="Name" value={form.name} error={errors.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <TextField label="Description" value={form.description} maxLength={2000} onChange={(e) => setForm({ ...form, description: e.target.value })} />
        <TextArea label="Instructions" rows={8} value={form.content} error={errors.content} onChange={(e) => setForm({ ...form, content: e.target.value })} />
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={save.isPending}>
            {skill ? 'Save skill' : 'Create skill'}
          </Button>
        </div>
      </form>
    </Modal>
  )
}

function RuleDialog({ rule, onClose }: { rule: RuleInfo | null; onClose: () => void }) {
  const refresh = useRefresh()
  const [form, setForm] = useState({
    name: rule?.name ?? '',
    description: rule?.description ?? '',
    tool_pattern: rule?.tool_pattern ?? '',
    argument_pattern: rule?.argument_pattern ?? '',
  })
  const [errors, setErrors] = useState<{ name?: string; description?: string; tool_pattern?: string; argument_pattern?: string }>({})
  const save = useMutation({
    mutationFn: () => {
      // An emptied pattern is sent as null, which clears it.
      const body = {
        name: form.name.trim(),
        description: form.description.trim(),
        tool_pattern: form.tool_pattern.trim() || null,
        argument_pattern: form.argument_pattern.trim() || null,
      }
      return rule ? skillsApi.updateRule(rule.id, body) : skillsApi.createRule({ ...body, enabled: true })
    },
    meta: { errorToast: false },
    onSuccess: () => {
      toast.success(rule ? 'Rule saved' : 'Rule created')
      void refresh()
      onClose()
    },
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    const next = {
      name: nameError(form.name.trim()),
      description: !form.description.trim() ? 'Say what the rule forbids or requires.' : form.description.length > MAX_RULE_TEXT ? `At most ${MAX_RULE_TEXT} characters.` : undefined,
      tool_pattern: regexError(form.tool_pattern),
      argument_pattern: regexError(form.argument_pattern),
    }
    setErrors(next)
    if (!Object.values(next).some(Boolean)) save.mutate()
  }

  return (
    <Modal title={rule ? `Edit rule “${rule.name}”` : 'New rule'} onClose={onClose} size="lg">
      <form onSubmit={submit} className="space-y-4" noValidate>
        <TextField label="Name" value={form.name} error={errors.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <TextArea label="Rule" rows={3} value={form.description} error={errors.description} hint="In plain language; every agent's prompt includes it." onChange={(e) => setForm({ ...form, description: e.target.value })} />
        <div className="grid gap-4 sm:grid-cols-2">
          <TextField
            label="Tool pattern (optional)"
            value={form.tool_pattern}
            error={errors.tool_pattern}
            placeholder="shell|run_command"
            hint="A regular expression matched against the whole tool name."
            onChange={(e) => setForm({ ...form, tool_pattern: e.target.value })}
          />
          <TextField
            label="Argument pattern (optional)"
            value={form.argument_pattern}
            error={errors.argument_pattern}
            placeholder="rm\s+-rf"
            hint="A regular expression searched in the call's JSON arguments."
            onChange={(e) => setForm({ ...form, argument_pattern: e.target.value })}
          />
        </div>
        <FormError message={save.error ? errorMessage(save.error) : null} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={save.isPending}>
            {rule ? 'Save rule' : 'Create rule'}
          </Button>
        </div>
      </form>
    </Modal>
  )
}

/** A first check in the browser; Python's regex dialect differs in corners, so the server has the last word. */
function regexError(pattern: string): string | undefined {
  if (!pattern.trim()) return undefined
  try {
    new RegExp(pattern)
    return undefined
  } catch {
    return 'Not a valid regular expression.'
  }
}
