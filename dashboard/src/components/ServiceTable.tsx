import type { ServiceStatus } from '../api/health'
import { StateBadge } from './StateBadge'

export function ServiceTable({ services }: { services: ServiceStatus[] }) {
  return (
    <div className="relative overflow-x-auto rounded-lg border border-line">
      <table className="w-full text-left text-sm">
        <thead className="bg-sunken text-xs uppercase tracking-wide text-muted">
          <tr>
            <th className="px-4 py-2 font-medium">Service</th>
            <th className="px-4 py-2 font-medium">Port</th>
            <th className="px-4 py-2 font-medium">Profile</th>
            <th className="px-4 py-2 font-medium">State</th>
            <th className="px-4 py-2 text-right font-medium">Latency</th>
            <th className="px-4 py-2 font-medium">Problems</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-line">
          {services.map((service) => (
            <tr key={service.name} className={service.state === 'disabled' ? 'text-muted' : undefined}>
              <td className="px-4 py-2 font-medium whitespace-nowrap">{service.name}</td>
              <td className="px-4 py-2 tabular-nums">{service.port}</td>
              <td className="px-4 py-2">{service.profile ?? <span className="text-faint">—</span>}</td>
              <td className="px-4 py-2">
                <StateBadge state={service.state} />
              </td>
              <td className="px-4 py-2 text-right whitespace-nowrap tabular-nums">
                {service.latency_ms == null ? <span className="text-faint">—</span> : `${service.latency_ms.toFixed(1)} ms`}
              </td>
              <td className="px-4 py-2 text-fg">
                <ServiceProblems service={service} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function ServiceProblems({ service }: { service: ServiceStatus }) {
  if (service.state === 'ready' || service.state === 'disabled') return null
  const failing = (service.checks ?? []).filter((check) => check.status === 'down')
  return (
    <ul className="space-y-0.5">
      {service.detail && <li>{service.detail}</li>}
      {failing.map((check) => (
        <li key={check.name}>
          <span className="font-mono text-amber-700 dark:text-amber-300">{check.name}</span>
          {!check.required && <span className="text-muted"> (optional)</span>}
          {check.detail && <span>: {check.detail}</span>}
        </li>
      ))}
    </ul>
  )
}
