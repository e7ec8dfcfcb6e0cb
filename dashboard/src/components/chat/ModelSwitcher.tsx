import { useQuery } from '@tanstack/react-query'
import { useId } from 'react'

import { chatModels, modelsQueries } from '../../api/models'

interface ModelSwitcherProps {
  /** null: the agent's own model (or the gateway's choice). */
  value: string | null
  onChange: (model: string | null) => void
}

/** Which model answers the next message, from the models the gateway can reach right now. */
export function ModelSwitcher({ value, onChange }: ModelSwitcherProps) {
  const id = useId()
  const models = useQuery(modelsQueries.models())
  const options = chatModels(models.data)
  const missing = value !== null && models.isSuccess && !options.some((model) => model.id === value)
  return (
    <div className="flex items-center gap-2">
      <label htmlFor={id} className="text-xs text-muted max-sm:sr-only">
        Model
      </label>
      <select
        id={id}
        value={value ?? ''}
        onChange={(event) => onChange(event.target.value || null)}
        title={models.isError ? 'The model list is unavailable' : undefined}
        className="max-w-44 rounded-md border border-line-strong bg-panel px-2 py-1 text-xs focus:border-teal-500 focus:outline-none sm:max-w-60"
      >
        <option value="">Default</option>
        {missing && <option value={value}>{value} (unavailable)</option>}
        {options.map((model) => (
          <option key={`${model.provider}/${model.id}`} value={model.id}>
            {model.id} · {model.provider}
          </option>
        ))}
      </select>
    </div>
  )
}
