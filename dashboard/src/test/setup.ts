import { cleanup } from '@testing-library/react'
import { afterEach, vi } from 'vitest'

import { dismissAllToasts } from '../toast'

// Testing Library only unmounts on its own when test globals are enabled; they are not.
afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
  localStorage.clear()
  sessionStorage.clear()
  dismissAllToasts()
})
