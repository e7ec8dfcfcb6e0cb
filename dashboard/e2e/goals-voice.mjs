// Goals, the spec review and voice in headless Chromium against a running Nova stack with voice-service.
// Started by tests/test_dashboard_goals_voice_e2e.py, which starts the stack (NOVA_PROFILES=voice), puts a goal
// up for review through the API, and synthesizes the WAV the fake microphone plays. By hand:
//
//   NOVA_DASHBOARD_URL=… NOVA_ADMIN_SECRET=… NOVA_E2E_REVIEW_GOAL_ID=… NOVA_E2E_SPEECH_WAV=/path/speech.wav \
//   NOVA_E2E_REPLY='Hello from the fake provider.' node e2e/goals-voice.mjs
//
// The last line of output is `E2E_RESULT <json>` with the failures (and what the microphone was heard saying).
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

import { launchBrowser, trackNetwork } from './browser.mjs'

function requireEnv(name) {
  const value = process.env[name]
  if (!value) {
    console.error(`e2e: ${name} is not set`)
    process.exit(2)
  }
  return value
}

const config = {
  base: requireEnv('NOVA_DASHBOARD_URL').replace(/\/$/, ''),
  secret: requireEnv('NOVA_ADMIN_SECRET'),
  reviewGoalId: requireEnv('NOVA_E2E_REVIEW_GOAL_ID'),
  wav: requireEnv('NOVA_E2E_SPEECH_WAV'),
  reply: requireEnv('NOVA_E2E_REPLY'),
  artifacts: process.env.NOVA_E2E_ARTIFACTS || join(process.cwd(), 'e2e-artifacts'),
}
const STEP_TIMEOUT = 90_000

mkdirSync(config.artifacts, { recursive: true })
const browser = await launchBrowser({
  extraArgs: [
    // A microphone that plays the WAV (looped), granted without a prompt; replies may play without a click.
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${config.wav}`,
    '--autoplay-policy=no-user-gesture-required',
  ],
})
await browser.context.grantPermissions(['microphone'], { origin: config.base })
// Signed in and past onboarding, as a returning admin.
await browser.context.addInitScript(
  ([secret]) => {
    localStorage.setItem('nova.adminSecret', secret)
    localStorage.setItem('nova.onboarded', '1')
  },
  [config.secret],
)
const page = await browser.context.newPage()
page.setDefaultTimeout(30_000)

// Every console error fails the step it happened in, except a failed request to cortex: cortex may still be
// starting (or be mid-restart), and the panel is built to say so rather than to break; that is noted, not failed.
const consoleProblems = []
const notes = []
page.on('console', (message) => {
  if (message.type() !== 'error') return
  const where = message.location()?.url || ''
  if (where.includes('/cortex-api/')) notes.push(`cortex request failed: ${message.text()} (${where})`)
  else consoleProblems.push(`console error on ${page.url()}: ${message.text()} ${where}`)
})
page.on('pageerror', (error) => consoleProblems.push(`uncaught exception on ${page.url()}: ${error.message}`))
// Instead of waitForLoadState('networkidle'), which every page's open notification stream would hold off forever.
const networkQuiet = trackNetwork(page)

const failures = []
const observed = {}
let shot = 0

async function screenshot(name) {
  shot += 1
  await page.screenshot({ path: join(config.artifacts, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true })
}

async function step(name, run) {
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

const url = (path) => config.base + path

async function visible(locator, timeout = 30_000) {
  await locator.first().waitFor({ state: 'visible', timeout })
  return locator.first()
}

// 1. A scheduled goal: the cron field reads back in words with its next runs, and the list shows the next run.
await step('scheduled-goal', async () => {
  const title = `E2E weekly review ${Date.now()}`
  await page.goto(url('/goals'))
  await visible(page.getByRole('heading', { name: 'Goals', exact: true, level: 1 }))
  await page.getByRole('button', { name: 'New goal' }).click()
  const dialog = await visible(page.getByRole('dialog'))
  await dialog.getByLabel('Title').fill(title)
  await dialog.getByLabel('Description').fill('Look at the open pull requests and summarise them.')
  await dialog.getByLabel('Schedule (cron)').fill('0 9 * * 1')
  const preview = await visible(dialog.getByTestId('schedule-preview').filter({ hasText: 'Next:' }))
  const previewText = await preview.innerText()
  observed.cron_preview = previewText
  if (!/monday/i.test(previewText)) throw new Error(`the cron preview does not say Monday: ${previewText}`)
  await dialog.getByLabel('Cost cap (USD)').fill('2.50')
  await screenshot('goal-form-cron-preview')
  await dialog.getByRole('button', { name: 'Create goal' }).click()
  await dialog.waitFor({ state: 'detached' })
  const row = await visible(page.getByTestId('goal-row').filter({ hasText: title }))
  const rowText = await row.innerText()
  if (!/in \d+ (day|hour|minute)s?|tomorrow|in \d+ weeks?|next week/i.test(rowText)) throw new Error(`the row shows no next run: ${rowText}`)
  if (!rowText.includes('$2.50')) throw new Error(`the row does not show the cost cap: ${rowText}`)
  await screenshot('goals-list')
  await row.getByRole('link', { name: title }).click()
  await visible(page.getByRole('heading', { name: title }))
  await visible(page.getByText(/At 09:00 AM, only on Monday/i))
})

// 2. The spec review: the goal the test put up for review is approved in the UI and moves on to building.
await step('approve-spec', async () => {
  await page.goto(url(`/goals/${config.reviewGoalId}`))
  await visible(page.getByRole('heading', { name: 'Spec to review' }))
  await visible(page.getByTestId('goal-spec').filter({ hasText: 'Acceptance' }))
  await screenshot('spec-review')
  await page.getByRole('button', { name: 'Approve spec' }).click()
  await visible(page.getByRole('list', { name: 'Maturation' }).locator('[aria-current="step"]').filter({ hasText: 'building' }))
  await page.getByRole('heading', { name: 'Spec to review' }).waitFor({ state: 'detached' })
  await screenshot('spec-approved')
})

// 3. Voice: hold to talk (the fake microphone plays the WAV), the transcript is sent, the reply is read aloud.
await step('voice', async () => {
  await page.goto(url('/'))
  const talk = await visible(page.getByTestId('hold-to-talk'))
  await talk.hover()
  await page.mouse.down()
  await visible(page.getByText('Recording… release to send.'))
  await page.waitForTimeout(4_000) // hold while the WAV plays into the microphone
  await page.mouse.up()
  const sent = await visible(page.getByRole('list', { name: 'Messages' }).getByText(/^You: /).locator('..'), 60_000)
  observed.heard = (await sent.innerText()).replace(/^You:\s*/, '')
  await visible(page.getByTestId('assistant-message').filter({ hasText: config.reply }), 60_000)
  await screenshot('voice-sent')
  // The stored copy of the reply carries the speaker button once the turn is over.
  const speak = await visible(page.getByRole('button', { name: 'Read aloud' }), 30_000)
  await speak.click()
  const player = page.getByTestId('voice-player')
  await page.waitForFunction(
    () => {
      const audio = document.querySelector('[data-testid="voice-player"]')
      return audio instanceof HTMLAudioElement && audio.src.startsWith('blob:') && (audio.currentTime > 0 || audio.ended) && !audio.error
    },
    null,
    { timeout: 30_000 },
  )
  const state = await player.evaluate((audio) => ({ src: audio.src, error: audio.error?.message ?? null, duration: audio.duration }))
  observed.playback = state
  if (state.error) throw new Error(`the reply did not play: ${state.error}`)
  if (await page.getByText(/Could not read it aloud/).count()) throw new Error('the page reports the reply could not be read aloud')
  await screenshot('voice-played')
})

// 4. Settings → Voice: the offline voice is listed as usable, and the preview speaks with the chosen pace.
await step('voice-settings', async () => {
  await page.goto(url('/settings'))
  const table = await visible(page.getByRole('table', { name: 'Voice providers' }))
  const offline = table.getByRole('row').filter({ hasText: 'Offline' })
  await visible(offline.getByText('usable', { exact: true }))
  await page.getByLabel('Speed').fill('1.3')
  await page.getByRole('button', { name: 'Preview the voice' }).click()
  await page.waitForFunction(
    () => {
      const audio = document.querySelector('[data-testid="voice-preview-player"]')
      return audio instanceof HTMLAudioElement && audio.src.startsWith('blob:') && (audio.currentTime > 0 || audio.ended) && !audio.error
    },
    null,
    { timeout: 30_000 },
  )
  await screenshot('voice-settings')
})

// 5. The new pages fit a 390 px phone screen.
await step('phone-width', async () => {
  await page.setViewportSize({ width: 390, height: 844 })
  for (const path of ['/goals', `/goals/${config.reviewGoalId}`, '/']) {
    await page.goto(url(path))
    await networkQuiet()
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    await screenshot(`phone${path.replaceAll('/', '-')}`)
    if (overflow > 1) throw new Error(`${path} is ${overflow}px wider than a 390px phone screen`)
  }
  await page.setViewportSize({ width: 1280, height: 800 })
})

await browser.close()
const result = { failures, observed, notes, artifacts: config.artifacts }
console.log(`E2E_RESULT ${JSON.stringify(result)}`)
process.exit(failures.length ? 1 : 0)
