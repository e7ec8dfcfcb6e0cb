// End-to-end run of the dashboard in headless Chromium against a running Nova stack.
// Started by tests/test_dashboard_e2e.py (which starts the stack with the fake LLM provider); it can also
// be pointed at a stack by hand:
//
//   NOVA_DASHBOARD_URL=http://127.0.0.1:3000 NOVA_ADMIN_SECRET=… NOVA_ORCHESTRATOR_URL=http://127.0.0.1:8000 \
//   NOVA_MEMORY_SERVICE_URL=http://127.0.0.1:8002 node e2e/run.mjs
//
// Every step saves screenshots to NOVA_E2E_ARTIFACTS. Any console error or uncaught exception fails the
// run. The last line of output is `E2E_RESULT <json>` with the measurements and the failures.
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

import { launchBrowser, trackNetwork, watchConsole } from './browser.mjs'
import { runNotificationsFriction } from './notifications-friction.mjs'
import { memorySteps } from './memory.mjs'
import { recoverySteps } from './recovery.mjs'
import { sourcesSteps } from './sources.mjs'

const config = {
  base: requireEnv('NOVA_DASHBOARD_URL').replace(/\/$/, ''),
  secret: requireEnv('NOVA_ADMIN_SECRET'),
  orchestrator: requireEnv('NOVA_ORCHESTRATOR_URL').replace(/\/$/, ''),
  memory: requireEnv('NOVA_MEMORY_SERVICE_URL').replace(/\/$/, ''),
  artifacts: process.env.NOVA_E2E_ARTIFACTS || join(process.cwd(), 'e2e-artifacts'),
  // What the fake provider answers (a substring), so the test knows the streamed text is the model's.
  reply: process.env.NOVA_E2E_REPLY || '',
  mcpCommand: process.env.NOVA_E2E_MCP_COMMAND || '',
  mcpArgs: JSON.parse(process.env.NOVA_E2E_MCP_ARGS || '[]'),
  // The goal of a task the stack has dead-lettered before the run (the pytest stages it).
  deadLetterGoal: process.env.NOVA_E2E_DEAD_LETTER_GOAL || '',
  // Which steps to run (comma-separated names); all by default.
  only: (process.env.NOVA_E2E_ONLY || '').split(',').filter(Boolean),
}
const STEP_TIMEOUT = 60_000
const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1280, height: 800 }

function requireEnv(name) {
  const value = process.env[name]
  if (!value) {
    console.error(`e2e: ${name} is not set`)
    process.exit(2)
  }
  return value
}

mkdirSync(config.artifacts, { recursive: true })
const browser = await launchBrowser()
const page = await browser.context.newPage()
page.setDefaultTimeout(20_000)
const consoleProblems = []
watchConsole(page, consoleProblems)
// Instead of waitForLoadState('networkidle'), which every page's open notification stream would hold off forever.
const networkQuiet = trackNetwork(page)
const failures = []
const measurements = {}
let shot = 0

async function screenshot(name, { fullPage = true } = {}) {
  shot += 1
  const file = join(config.artifacts, `${String(shot).padStart(2, '0')}-${name}.png`)
  await page.screenshot({ path: file, fullPage })
  return file
}

/** Each page at desktop and phone width; the phone shot proves nothing overflows at 390 px. */
async function screenshotBothWidths(name) {
  await screenshot(`${name}-desktop`)
  await page.setViewportSize(PHONE)
  await page.waitForTimeout(200)
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  await screenshot(`${name}-phone`)
  await page.setViewportSize(DESKTOP)
  if (overflow > 1) throw new Error(`${name}: the page is ${overflow}px wider than a 390px phone screen`)
}

async function step(name, run) {
  if (config.only.length && !config.only.includes(name)) return
  const before = consoleProblems.length
  const started = Date.now()
  process.stdout.write(`e2e: ${name} … `)
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`step timed out after ${STEP_TIMEOUT / 1000}s`)), STEP_TIMEOUT)),
    ])
    const problems = consoleProblems.slice(before)
    if (problems.length) throw new Error(`console errors:\n  ${problems.join('\n  ')}`)
    console.log(`ok (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  } catch (error) {
    console.log('FAILED')
    console.log(`  ${String(error?.stack || error).split('\n').slice(0, 6).join('\n  ')}`)
    failures.push({ step: name, error: String(error?.message || error) })
    await screenshot(`FAILED-${name}`).catch(() => undefined)
  }
}

function url(path) {
  return config.base + path
}

async function expectVisible(locator, timeout = 20_000) {
  await locator.first().waitFor({ state: 'visible', timeout })
  return locator.first()
}

async function api(base, path, init = {}) {
  const response = await fetch(base + path, {
    ...init,
    headers: { 'Content-Type': 'application/json', 'X-Admin-Secret': config.secret, ...(init.headers || {}) },
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : null }
}

// 1. First visit: the wizard asks for the admin secret, shows the services, picks the model, sends a message.
await step('onboarding', async () => {
  await page.goto(url('/'))
  await page.waitForURL('**/onboarding')
  await screenshot('onboarding-secret')
  await page.getByLabel('Admin secret').fill(config.secret)
  await page.getByRole('button', { name: 'Continue' }).click()
  await expectVisible(page.getByRole('heading', { name: 'Services' }))
  await expectVisible(page.getByText(/services ready/))
  await screenshot('onboarding-services')
  await page.getByRole('button', { name: 'Continue' }).click()
  await expectVisible(page.getByRole('heading', { name: 'Model' }))
  await expectVisible(page.getByLabel(/Local model/))
  await page.getByRole('button', { name: /^Test / }).click()
  await expectVisible(page.getByText(/Answered in/), 30_000)
  await screenshot('onboarding-model')
  await page.getByRole('button', { name: 'Continue' }).click()
  await expectVisible(page.getByRole('heading', { name: 'First message' }))
  await page.getByLabel('Message', { exact: true }).fill('Hello! Who are you?')
  await page.getByRole('button', { name: 'Send' }).click()
  await expectVisible(page.getByTestId('assistant-message').filter({ hasText: config.reply }), 45_000)
  await screenshot('onboarding-first-message')
  await page.getByRole('button', { name: 'Finish' }).click()
  await page.waitForURL((u) => u.pathname === '/')
  await expectVisible(page.getByLabel('Message', { exact: true }))
})
// Whatever happened above, the other steps need onboarding behind them.
if (new URL(page.url()).pathname === '/onboarding') {
  await page.getByRole('button', { name: 'Skip setup' }).click().catch(() => undefined)
  await page.waitForURL((u) => u.pathname === '/').catch(() => undefined)
}

// 2. Initial JS and time to interactive of the chat page, on an empty cache.
await step('measure', async () => {
  const cdp = await browser.context.newCDPSession(page)
  await cdp.send('Network.clearBrowserCache')
  const scripts = []
  const onResponse = async (response) => {
    if (response.request().resourceType() === 'script' && response.url().startsWith(config.base)) {
      scripts.push({ url: response.url(), body: await response.body().catch(() => Buffer.alloc(0)) })
    }
  }
  page.on('response', onResponse)
  await page.goto(url('/'), { waitUntil: 'load' })
  await expectVisible(page.getByLabel('Message', { exact: true }))
  await networkQuiet()
  page.off('response', onResponse)
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0]
    const mark = performance.getEntriesByName('nova:chat-interactive')[0]
    return { interactive: mark?.startTime ?? null, domContentLoaded: nav?.domContentLoadedEventEnd ?? null, load: nav?.loadEventEnd ?? null }
  })
  const files = scripts.map(({ url: u, body }) => ({ file: new URL(u).pathname, raw: body.length, gzip: gzipSync(body).length }))
  measurements.chat_time_to_interactive_ms = timing.interactive && Math.round(timing.interactive)
  measurements.chat_dom_content_loaded_ms = timing.domContentLoaded && Math.round(timing.domContentLoaded)
  measurements.initial_js_files = files
  measurements.initial_js_raw_bytes = files.reduce((sum, f) => sum + f.raw, 0)
  measurements.initial_js_gzip_bytes = files.reduce((sum, f) => sum + f.gzip, 0)
  if (!timing.interactive) throw new Error('the chat page never marked nova:chat-interactive')
})

// 3. Chat: a streamed answer rendered as Markdown, and the conversation in the list.
await step('chat', async () => {
  await page.goto(url('/'))
  await expectVisible(page.getByTestId('greeting'))
  await screenshot('chat-empty')
  await page.getByLabel('Message', { exact: true }).fill('Please say something about streaming.')
  await page.getByLabel('Message', { exact: true }).press('Enter')
  // While the answer streams the Stop button replaces Send.
  await expectVisible(page.getByRole('button', { name: 'Stop' }), 10_000).catch(() => undefined)
  const answer = await expectVisible(page.getByTestId('assistant-message').filter({ hasText: config.reply }), 45_000)
  await expectVisible(page.getByRole('button', { name: 'Send' }), 45_000)
  await page.waitForURL((u) => u.searchParams.has('c'))
  const list = page.getByRole('navigation', { name: 'Conversations' })
  await expectVisible(list.getByText('Please say something about streaming.'))
  if (!(await answer.isVisible())) throw new Error('the answer disappeared once the stream finished')
  await screenshotBothWidths('chat')
})

// 4. Keys: create one, copy it from the one-time reveal, use it from a script, see it used.
await step('keys', async () => {
  await page.goto(url('/keys'))
  await expectVisible(page.getByRole('heading', { name: 'API keys' }))
  await page.getByLabel('Name', { exact: true }).fill('e2e-script')
  await page.getByLabel('Requests per minute').fill('30')
  await page.getByRole('button', { name: 'Create key' }).click()
  const key = (await (await expectVisible(page.getByTestId('new-api-key'))).textContent()).trim()
  if (!key.startsWith('sk-nova-')) throw new Error(`the revealed key does not look like a Nova key: ${key.slice(0, 12)}…`)
  await screenshot('keys-reveal')

  // "From a script": the OpenAI-compatible endpoint with the key as a Bearer token, and a wrong key refused.
  const good = await fetch(`${config.orchestrator}/v1/models`, { headers: { Authorization: `Bearer ${key}` } })
  const bad = await fetch(`${config.orchestrator}/v1/models`, { headers: { Authorization: `Bearer ${key}x` } })
  if (good.status !== 200) throw new Error(`the new key was refused: ${good.status} ${await good.text()}`)
  if (bad.status !== 401) throw new Error(`a wrong key was not refused: ${bad.status}`)

  await page.getByRole('button', { name: 'I have saved it' }).click()
  const row = page.getByRole('row').filter({ hasText: 'e2e-script' })
  await expectVisible(row)
  // The orchestrator records use lazily (every few seconds); reload until the row says so.
  for (let i = 0; i < 15 && (await row.textContent()).includes('never'); i++) {
    await page.waitForTimeout(1000)
    await page.reload()
    await expectVisible(row)
  }
  if ((await row.textContent()).includes('never')) throw new Error('the key was used but its row still says "never"')
  await screenshotBothWidths('keys')
})

// 5. Tasks: submit a goal and watch the live board take it to complete.
await step('tasks', async () => {
  await page.goto(url('/tasks'))
  await expectVisible(page.getByRole('heading', { name: 'Tasks', exact: true }))
  await expectVisible(page.getByText('Live', { exact: true }))
  await page.getByLabel('Goal').fill('Write a one-line summary of what Nova is.')
  await page.getByRole('button', { name: 'Submit', exact: true }).click()
  // Submitting opens the task; its state follows the progress events.
  const dialog = page.getByRole('dialog', { name: 'Task' })
  await expectVisible(dialog)
  await screenshot('task-submitted')
  await expectVisible(dialog.getByText('complete', { exact: true }), 50_000)
  await expectVisible(dialog.getByRole('heading', { name: 'Timeline' }))
  await screenshot('task-complete')
  await dialog.getByRole('button', { name: 'Close' }).click()
  await expectVisible(page.getByRole('region', { name: 'Done' }).getByText('Write a one-line summary of what Nova is.'))
  await screenshotBothWidths('tasks')
  await page.goto(url('/pods'))
  await expectVisible(page.getByRole('heading', { name: 'Pods', exact: true }))
  await networkQuiet()
  await screenshotBothWidths('pods')
})

// 5b. Dead letter: the task the reaper gave up on is listed with its reason, and re-queued from the page.
await step('dead-letter', async () => {
  if (!config.deadLetterGoal) throw new Error('NOVA_E2E_DEAD_LETTER_GOAL is not set')
  await page.goto(url('/tasks'))
  const list = page.getByRole('list', { name: 'Dead-lettered tasks' })
  const row = list.getByRole('listitem').filter({ hasText: config.deadLetterGoal })
  await expectVisible(row)
  await expectVisible(row.getByText(/retries exhausted/))
  await expectVisible(row.getByText(/^dead-lettered /))
  await row.scrollIntoViewIfNeeded()
  await screenshot('tasks-dead-letter', { fullPage: false })
  await row.getByRole('button', { name: 'Re-queue' }).click()
  const dialog = page.getByRole('dialog', { name: 'Re-queue this task?' })
  await dialog.getByRole('button', { name: 'Re-queue task' }).click()
  await expectVisible(page.getByText('Task re-queued; it resumes from its checkpoint'))
  await row.waitFor({ state: 'detached' })
  const left = await api(config.orchestrator, '/api/v1/pipeline/dead-letter')
  if (left.body.some((entry) => entry.goal === config.deadLetterGoal)) throw new Error('the orchestrator still lists the re-queued task')
})

// 6. MCP: register a real stdio MCP server and see it connect with its tools.
await step('mcp', async () => {
  if (!config.mcpCommand) throw new Error('NOVA_E2E_MCP_COMMAND is not set')
  await page.goto(url('/mcp'))
  await expectVisible(page.getByRole('heading', { name: 'MCP servers' }))
  await page.getByRole('button', { name: 'Add custom server' }).click()
  const dialog = page.getByRole('dialog', { name: 'Add custom server' })
  await dialog.getByLabel('Name', { exact: true }).fill('e2e-echo')
  await dialog.getByLabel('Description').fill('Echo tools from the e2e run')
  await dialog.getByLabel('Command', { exact: true }).fill(config.mcpCommand)
  await dialog.getByLabel('Arguments').fill(config.mcpArgs.join('\n'))
  await dialog.getByRole('button', { name: 'Add server' }).click()
  const card = page.getByRole('article', { name: /e2e-echo/ })
  await expectVisible(card.getByText('connected', { exact: true }), 45_000)
  await expectVisible(card.getByText(/\d+ tools?/))
  await card.locator('summary').click()
  await expectVisible(card.getByText('echo', { exact: true }))
  await screenshotBothWidths('mcp')
})

// 7. Memory: a stored memory is found by hybrid search, with its scores.
await step('memory', async () => {
  const stored = await api(config.memory, '/api/v1/memories', {
    method: 'POST',
    body: JSON.stringify({ content: 'The e2e deployment window is every Tuesday at 14:00 UTC.', tier: 'semantic' }),
  })
  if (stored.status !== 201) throw new Error(`could not store a memory: ${stored.status} ${JSON.stringify(stored.body)}`)
  await page.goto(url('/memory'))
  await expectVisible(page.getByText('The e2e deployment window is every Tuesday at 14:00 UTC.'))
  await page.getByLabel('Search memories').fill('when is the deployment window')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  const results = page.getByRole('list', { name: 'Search results' })
  const hit = results.getByRole('listitem').filter({ hasText: 'deployment window is every Tuesday' })
  await expectVisible(hit)
  await expectVisible(hit.getByLabel('Scores'))
  await screenshotBothWidths('memory-search')
})

// 8. Settings: rename the AI and see the chat's greeting follow.
await step('identity', async () => {
  await page.goto(url('/settings'))
  await expectVisible(page.getByRole('heading', { name: 'Nova identity' }))
  await page.getByLabel('Name', { exact: true }).fill('Orion')
  await page.getByRole('button', { name: 'Save identity' }).click()
  await expectVisible(page.getByText('Identity saved'))
  await screenshotBothWidths('settings')
  await page.goto(url('/'))
  await expectVisible(page.getByTestId('greeting').filter({ hasText: 'Orion' }))
  await expectVisible(page.getByTestId('assistant-name').filter({ hasText: 'Orion' }))
  await screenshot('chat-renamed')
})

// 8b. Models: a provider key saved from the page is shown only masked, the gateway picks it up, and removing
// it takes the provider away again (so no later step can route to a provider with a made-up key).
await step('provider-key', async () => {
  const key = `gsk_e2e_${randomBytes(16).toString('hex')}`
  const mask = `••••${key.slice(-4)}`
  await page.goto(url('/models'))
  const card = page.getByRole('article', { name: 'Groq', exact: true })
  await expectVisible(card.getByText(/No key saved in Nova/))
  await card.getByLabel('Groq API key', { exact: true }).fill(key)
  await card.getByRole('button', { name: 'Save key' }).click()
  await expectVisible(card.getByTestId('provider-key-groq').filter({ hasText: mask }))
  await expectVisible(card.getByText('Groq is available.'), 20_000)
  await card.scrollIntoViewIfNeeded()
  await screenshot('models-provider-key', { fullPage: false })

  if ((await page.content()).includes(key)) throw new Error('the page shows the key itself')
  const settings = await api(config.orchestrator, '/api/v1/config')
  const entry = settings.body.find((e) => e.key === 'llm.api_key.groq')
  if (!entry?.is_secret || entry.value !== mask) throw new Error(`the orchestrator lists the key as ${JSON.stringify(entry)}`)
  if (JSON.stringify(settings.body).includes(key)) throw new Error('the orchestrator answers with the key itself')

  await card.getByRole('button', { name: 'Remove key' }).click()
  await page.getByRole('dialog', { name: 'Remove the Groq API key?' }).getByRole('button', { name: 'Remove key' }).click()
  await expectVisible(card.getByText(/No key saved in Nova/))
  await expectVisible(card.getByText(/Groq is not available/), 20_000)
})

// 8c. Task notifications (toasts, the "needs you" count) and the friction log.
await runNotificationsFriction({ page, step, url, api, config, expectVisible, screenshot })

// 9. The remaining pages render without errors at both widths, in light and dark.
await step('pages', async () => {
  for (const [path, heading] of [
    ['/usage', 'Usage'],
    ['/models', 'Models'],
    ['/status', 'Status'],
  ]) {
    await page.goto(url(path))
    await expectVisible(page.getByRole('heading', { name: heading, exact: true }))
    await networkQuiet()
    await screenshotBothWidths(path.slice(1))
  }
  await page.getByLabel('Dark').check({ force: true })
  for (const path of ['/', '/usage', '/keys']) {
    await page.goto(url(path))
    await networkQuiet()
    await screenshot(`dark${path.replace('/', '-') || '-chat'}`)
  }
  await page.getByLabel('Light').check({ force: true })
})

// 9b. Recovery: backup → change → restore brings it back; a factory reset of memories keeps everything else.
await recoverySteps({ page, step, url, api, config, expectVisible, screenshot, screenshotBothWidths })

// 10. Keyboard: the skip link and the sidebar are reachable with Tab, and Enter follows a link.
await step('keyboard', async () => {
  await page.goto(url('/keys'))
  await expectVisible(page.getByRole('heading', { name: 'API keys' }))
  await page.keyboard.press('Tab')
  const first = await page.evaluate(() => document.activeElement?.textContent?.trim())
  if (first !== 'Skip to content') throw new Error(`the first Tab stop is "${first}", not the skip link`)
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab')
    const label = await page.evaluate(() => document.activeElement?.textContent?.trim())
    if (label === 'Memory') break
  }
  await page.keyboard.press('Enter')
  await page.waitForURL('**/memory')
})

// 10b. Sources: a feed on a loopback fake server is added and checked, its recommendation approved into a goal.
await sourcesSteps({ page, step, url, expectVisible, screenshot, screenshotBothWidths })
await memorySteps({ page, step, url, expectVisible, screenshot, screenshotBothWidths, api, memoryUrl: config.memory })

// 11. Admin secret: changed from Settings for every service; this browser stays signed in, the old one is refused.
// Last, because every request after it needs the new secret.
await step('admin-secret', async () => {
  await page.goto(url('/settings'))
  await page.getByRole('button', { name: 'Generate a strong secret' }).click()
  const fresh = await page.getByLabel('New admin secret').inputValue()
  if (fresh.length < 16) throw new Error(`the generated secret is only ${fresh.length} characters`)
  await page.getByRole('button', { name: 'Change admin secret' }).click()
  await expectVisible(page.getByText(/This browser has the new secret/))
  const stored = await page.evaluate(() => localStorage.getItem('nova.adminSecret'))
  if (stored !== fresh) throw new Error('the browser did not store the new secret')
  // Pages that call other services right away do not ask for the secret while those services catch up.
  await page.goto(url('/models'))
  await expectVisible(page.getByRole('heading', { name: 'Providers' }))
  await networkQuiet()
  if (await page.getByRole('dialog', { name: 'Admin secret' }).isVisible()) throw new Error('the page asked for the secret after the change')
  // Every service follows within seconds: llm-gateway's admin-only config route takes the new one and refuses the old.
  let probe = { old: 0, fresh: 0 }
  for (let i = 0; i < 20; i++) {
    const ask = async (secret) => (await fetch(`${config.base}/llm-api/config`, { headers: { 'X-Admin-Secret': secret } })).status
    probe = { old: await ask(config.secret), fresh: await ask(fresh) }
    if (probe.old === 401 && probe.fresh === 200) break
    await page.waitForTimeout(1000)
  }
  if (probe.old !== 401 || probe.fresh !== 200) throw new Error(`llm-gateway answers ${JSON.stringify(probe)} to the old and new secrets`)
  config.secret = fresh
})

await browser.close()
const result = { failures, measurements, artifacts: config.artifacts, console_problems: consoleProblems }
writeFileSync(join(config.artifacts, 'result.json'), JSON.stringify(result, null, 2))
console.log(`E2E_RESULT ${JSON.stringify({ failures, measurements: { ...measurements, initial_js_files: undefined }, artifacts: config.artifacts })}`)
process.exit(failures.length ? 1 : 0)
