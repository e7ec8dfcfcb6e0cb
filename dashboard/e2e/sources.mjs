// The Sources page in the browser, called from run.mjs: a feed served by a loopback fake RSS server is added
// (its type detected from the URL), checked by the real intel-worker, its items digested through the real
// llm-gateway (the fake model answers the digest with one recommendation), and the recommendation approved
// into a goal the page links to.
//
// Then a credential is saved and shown only masked, and a site on loopback is crawled by the real
// knowledge-worker while the page shows the crawl's live progress and then its history.
//
// Needs NOVA_E2E_FEED_URL (the fake feed; the stack must allow loopback fetches for tests),
// NOVA_E2E_RECOMMENDATION (the title the fake model's digest gives) and NOVA_E2E_SITE_URL (the fake website,
// crawled by knowledge-worker: the stack runs with COMPOSE_PROFILES=knowledge); tests/test_dashboard_e2e.py
// sets them.

import { randomBytes } from 'node:crypto'

const FEED_NAME = 'E2E Hugging Face blog'

/** Reload until `locator` shows up: the page polls every 15 s, a reload every few seconds finds it sooner.
 * Each load is given a few seconds to fetch its data before the next reload (checked right after a reload,
 * the page has not fetched yet, and on a busy machine it never would have). */
async function reloadUntilVisible(page, locator, timeout) {
  const deadline = Date.now() + timeout
  for (;;) {
    try {
      await locator.first().waitFor({ state: 'visible', timeout: 4_000 })
      return locator.first()
    } catch {
      if (Date.now() > deadline) throw new Error(`not visible within ${timeout / 1000}s: ${locator}`)
    }
    await page.reload()
  }
}

export async function sourcesSteps({ page, step, url, expectVisible, screenshot, screenshotBothWidths }) {
  const feedUrl = process.env.NOVA_E2E_FEED_URL || ''
  const recommendation = process.env.NOVA_E2E_RECOMMENDATION || ''
  const siteUrl = (process.env.NOVA_E2E_SITE_URL || '').replace(/\/$/, '')

  // 1. Add the feed with its type detected, ask for a check now, and see intel-worker's report: ok, 3 items.
  await step('sources-feed', async () => {
    if (!feedUrl) throw new Error('NOVA_E2E_FEED_URL is not set')
    await page.goto(url('/sources'))
    await expectVisible(page.getByRole('heading', { name: 'Sources', exact: true }))
    await page.getByRole('button', { name: 'Add feed' }).click()
    const dialog = page.getByRole('dialog', { name: 'Add feed' })
    await dialog.getByLabel('URL').fill(feedUrl)
    await expectVisible(dialog.getByTestId('detected-feed-type').filter({ hasText: 'Detected: RSS' }))
    await dialog.getByLabel('Name (optional)').fill(FEED_NAME)
    await screenshot('sources-add-feed', { fullPage: false })
    await dialog.getByRole('button', { name: 'Add feed' }).click()
    await dialog.waitFor({ state: 'detached' })

    const card = page.getByRole('article', { name: FEED_NAME })
    await expectVisible(card.getByText('RSS', { exact: true }))
    await card.getByRole('button', { name: `Check ${FEED_NAME} now` }).click()
    await expectVisible(page.getByText(/will be checked on intel-worker's next poll/))
    await reloadUntilVisible(page, card.getByText('ok', { exact: true }), 40_000)
    const text = await card.innerText()
    if (!/Items\s*3/.test(text)) throw new Error(`the feed does not show its 3 items: ${text}`)
  })

  // 2. The digest's recommendation appears; approving it creates a goal, and its link opens the goal.
  await step('sources-recommendation', async () => {
    if (!recommendation) throw new Error('NOVA_E2E_RECOMMENDATION is not set')
    await page.goto(url('/sources'))
    const card = await reloadUntilVisible(page, page.getByRole('article', { name: recommendation }), 45_000)
    await expectVisible(card.getByText('from 2 items'))
    await card.scrollIntoViewIfNeeded()
    await screenshot('sources-recommendation', { fullPage: false })
    await card.getByRole('button', { name: `Approve ${recommendation}` }).click()
    const created = page.getByRole('list', { name: 'Goals created' })
    const link = await expectVisible(created.getByRole('link', { name: 'Open the goal' }))
    await screenshotBothWidths('sources')
    await link.click()
    await page.waitForURL(/\/goals\/[0-9a-f-]{36}$/)
    await expectVisible(page.getByRole('heading', { name: recommendation }))
    await screenshot('sources-goal')
  })

  // 3. A token is stored and shown only by its last four characters, on the page and in the API's answer.
  await step('sources-credential', async () => {
    const token = `ghp_e2e${randomBytes(12).toString('hex')}`
    await page.goto(url('/sources'))
    await page.getByLabel('Credential name').fill('e2e-github')
    await page.getByLabel('Token', { exact: true }).fill(token)
    await page.getByRole('button', { name: 'Save credential' }).click()
    await expectVisible(page.getByText(`Saved “e2e-github” (••••${token.slice(-4)})`))
    const row = page.getByRole('table', { name: 'Credentials' }).getByRole('row').filter({ hasText: 'e2e-github' })
    await expectVisible(row.getByTestId('credential-masked').filter({ hasText: `••••${token.slice(-4)}` }))
    if ((await page.content()).includes(token)) throw new Error('the page shows the token itself')
    const listed = await page.evaluate(async () => {
      const response = await fetch('/api/v1/knowledge/credentials', { headers: { 'X-Admin-Secret': localStorage.getItem('nova.adminSecret') ?? '' } })
      return response.text()
    })
    if (listed.includes(token)) throw new Error('the orchestrator answers with the token itself')
    await row.scrollIntoViewIfNeeded()
    await screenshot('sources-credential', { fullPage: false })
  })

  // 4. A site is added and crawled by knowledge-worker: its progress shows live, then the crawl is in the history.
  await step('sources-crawl', async () => {
    if (!siteUrl) throw new Error('NOVA_E2E_SITE_URL is not set')
    await page.goto(url('/sources'))
    await page.getByRole('button', { name: 'Add source' }).click()
    const dialog = page.getByRole('dialog', { name: 'Add knowledge source' })
    await dialog.getByLabel('Name', { exact: true }).fill('E2E docs site')
    await dialog.getByLabel('Start page URL').fill(`${siteUrl}/`)
    await dialog.getByLabel('Max pages').fill('6')
    await dialog.getByRole('button', { name: 'Add source' }).click()
    await dialog.waitFor({ state: 'detached' })

    const card = page.getByRole('article', { name: /E2E docs site/ })
    // Queued at once; knowledge-worker claims it within its 2 s poll and crawls at one request a second.
    const live = await expectVisible(card.getByTestId('live-crawl'), 30_000)
    await expectVisible(live.getByText(/^Crawling: \d+ of at most 6 pages/))
    await card.scrollIntoViewIfNeeded()
    await screenshot('sources-crawl-live', { fullPage: false })
    await card.getByTestId('live-crawl').waitFor({ state: 'detached', timeout: 45_000 })
    await card.getByText('Crawl history').click()
    const history = card.getByRole('list', { name: 'Crawls of E2E docs site' })
    const finished = await expectVisible(history.getByRole('listitem').first().filter({ hasText: /complete|partial/ }))
    const text = await finished.innerText()
    if (!/Fetched\s*[1-6]\b/.test(text)) throw new Error(`the crawl fetched nothing or too much: ${text}`)
    await screenshot('sources-crawl-history', { fullPage: false })
  })
}
