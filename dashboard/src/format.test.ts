import { describe, expect, it } from 'vitest'

import { milliseconds, timeAgo, usd } from './format'

describe('format', () => {
  it('shows fractions of a cent instead of $0.00, and an unknown price as a dash', () => {
    expect(usd(0.0021)).toBe('$0.0021')
    expect(usd(1.5)).toBe('$1.50')
    expect(usd(0)).toBe('$0')
    expect(usd(null)).toBe('—')
  })

  it('says how long ago, relative to the given now', () => {
    const now = Date.parse('2026-11-27T12:00:00Z')
    expect(timeAgo('2026-11-27T11:59:55Z', now)).toBe('just now')
    expect(timeAgo('2026-11-27T11:57:00Z', now)).toMatch(/3 minutes ago/)
    expect(timeAgo(null, now)).toBe('never')
  })

  it('switches from milliseconds to seconds at one second', () => {
    expect(milliseconds(412.4)).toBe('412 ms')
    expect(milliseconds(1530)).toBe('1.5 s')
  })
})
