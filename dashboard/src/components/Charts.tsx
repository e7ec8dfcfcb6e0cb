// Two small chart shapes drawn with plain elements and SVG: the usage page needs bars and columns only,
// which does not justify a charting library's weight.

export interface BarDatum {
  label: string
  /** Stacked segments, left to right; each has its own colour class. */
  segments: { value: number; className: string; name: string }[]
  /** The number printed at the end of the bar. */
  caption: string
}

/** Horizontal bars, one per row, scaled to the largest total; every number is also printed as text. */
export function BarList({ data, label }: { data: BarDatum[]; label: string }) {
  const max = Math.max(1, ...data.map((d) => d.segments.reduce((sum, s) => sum + s.value, 0)))
  return (
    <ul aria-label={label} className="space-y-2">
      {data.map((datum) => (
        <li key={datum.label} className="flex flex-wrap items-center gap-x-3 gap-y-1 text-sm sm:flex-nowrap">
          <span className="w-full truncate font-mono text-xs sm:w-40 sm:shrink-0" title={datum.label}>
            {datum.label}
          </span>
          <div className="flex h-4 min-w-0 flex-1 overflow-hidden rounded-sm bg-sunken" aria-hidden>
            {datum.segments.map((segment) => (
              <div
                key={segment.name}
                title={`${segment.name}: ${segment.value.toLocaleString()}`}
                className={`h-full ${segment.className}`}
                style={{ width: `${(segment.value / max) * 100}%` }}
              />
            ))}
          </div>
          <span className="w-20 shrink-0 text-right text-xs tabular-nums">{datum.caption}</span>
        </li>
      ))}
    </ul>
  )
}

export interface ColumnDatum {
  label: string
  value: number
}

/** Vertical columns over time; the SVG is decoration, the hidden table carries the numbers. */
export function ColumnChart({ data, label, valueName }: { data: ColumnDatum[]; label: string; valueName: string }) {
  const max = Math.max(1, ...data.map((d) => d.value))
  const width = 100 / Math.max(1, data.length)
  const every = Math.ceil(data.length / 8)
  return (
    <figure>
      <svg viewBox="0 0 100 40" preserveAspectRatio="none" className="h-40 w-full" aria-hidden>
        {data.map((datum, i) => {
          const height = (datum.value / max) * 38
          return (
            <rect
              key={datum.label}
              x={i * width + width * 0.15}
              y={40 - height}
              width={width * 0.7}
              height={height}
              className="fill-teal-600 dark:fill-teal-500"
            >
              <title>{`${datum.label}: ${datum.value}`}</title>
            </rect>
          )
        })}
      </svg>
      <div className="mt-1 flex text-[10px] text-muted" aria-hidden>
        {data.map((datum, i) => (
          <span key={datum.label} style={{ width: `${width}%` }} className="overflow-visible whitespace-nowrap">
            {i % every === 0 ? datum.label : ''}
          </span>
        ))}
      </div>
      <table className="sr-only">
        <caption>{label}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">{valueName}</th>
          </tr>
        </thead>
        <tbody>
          {data.map((datum) => (
            <tr key={datum.label}>
              <td>{datum.label}</td>
              <td>{datum.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  )
}
