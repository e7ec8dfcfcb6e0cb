// How numbers, dates and money read on every page.

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
]

/** "3 minutes ago" / "in 2 days"; `now` is a parameter so tests are not at the mercy of the clock. */
export function timeAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return 'never'
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000)
  if (Math.abs(seconds) < 10) return 'just now'
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') return relative.format(Math.round(seconds / size), unit)
  }
  return relative.format(seconds, 'second')
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

const integer = new Intl.NumberFormat()
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 })

export function count(value: number | null | undefined): string {
  return value == null ? '—' : integer.format(value)
}

export function compactCount(value: number | null | undefined): string {
  return value == null ? '—' : compact.format(value)
}

/** Dollars with enough digits that a fraction of a cent is not shown as $0.00; null is an unknown price. */
export function usd(value: number | null | undefined): string {
  if (value == null) return '—'
  if (value === 0) return '$0'
  const digits = value < 0.01 ? 4 : 2
  return `$${value.toFixed(digits)}`
}

export function milliseconds(value: number | null | undefined): string {
  if (value == null) return '—'
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`
}

export function score(value: number | null | undefined): string {
  return value == null ? '—' : value.toFixed(3)
}
