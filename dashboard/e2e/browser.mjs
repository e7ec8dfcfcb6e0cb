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

/**
 * Returns `networkQuiet()`: resolves once the page has loaded and no request has been in flight for `quietMs`,
 * not counting the event streams the dashboard keeps open (task notifications on every page, the Tasks page's
 * progress events). Playwright's own 'networkidle' counts an open stream as a page still loading, forever.
 */
export function trackNetwork(page, { streams = [/\/notifications\/stream$/, /\/pipeline\/events$/] } = {}) {
  const inflight = new Set()
  let lastChange = Date.now()
  const isStream = (request) => request.resourceType() === 'eventsource' || streams.some((p) => p.test(new URL(request.url()).pathname))
  page.on('request', (request) => {
    if (isStream(request)) return
    inflight.add(request)
    lastChange = Date.now()
  })
  const settle = (request) => {
    if (inflight.delete(request)) lastChange = Date.now()
  }
  page.on('requestfinished', settle)
  page.on('requestfailed', settle)
  // A navigation abandons the previous document's requests, whether or not an event says so.
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) inflight.clear()
  })
  return async function networkQuiet({ quietMs = 500, timeout = 20_000 } = {}) {
    await page.waitForLoadState('load')
    const deadline = Date.now() + timeout
    while (inflight.size > 0 || Date.now() - lastChange < quietMs) {
      if (Date.now() > deadline) throw new Error(`the network never went quiet: ${[...inflight].map((r) => r.url()).join(', ')}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
