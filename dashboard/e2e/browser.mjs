// Headless Chromium from the system (Debian's `chromium` package) driven by playwright-core: no browser is
// downloaded. Shared by the end-to-end run and `shots.mjs`.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { chromium } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** `extraArgs`: more Chromium switches (the voice test's fake microphone). */
export async function launchBrowser({ extraArgs = [] } = {}) {
  // A fresh profile per run: nothing cached from an earlier run can flatter the measurements.
  const profile = mkdtempSync(join(tmpdir(), 'nova-e2e-profile-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Collects console errors and uncaught exceptions of a page, so a run can fail on them. */
export function watchConsole(page, problems) {
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error on ${page.url()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`uncaught exception on ${page.url()}: ${error.message}`))
}
