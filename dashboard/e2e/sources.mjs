// The Sources page in the browser, called from run.mjs: a feed served by a loopback fake RSS server is added
// (its type detected from the URL), checked by the real intel-worker, its items digested through the real
// llm-gateway (the fake model answers the digest with one recommendation), and the recommendation approved
// into a goal the page links to.
//
// Needs NOVA_E2E_FEED_URL (the fake feed; the stack must allow loopback fetches for tests) and
// NOVA_E2E_RECOMMENDATION (the title the fake model's digest gives); tests/test_dashboard_e2e.py sets both.

const FEED_NAME = 'E2E Hugging Face blog'

/** Reload until `locator` shows up: the page polls every 15 s, a reload every 2 s finds it sooner. */
async function reloadUntilVisible(page, locator, timeout) {
  const deadline = Date.now() + timeout
  for (;;) {
    if (await locator.first().isVisible().catch(() => false)) return locator.first()
    if (Date.now() > deadline) throw new Error(`not visible within ${timeout / 1000}s: ${locator}`)
    await page.waitForTimeout(2_000)
    await page.reload()
  }
}

export async function sourcesSteps({ page, step, url, expectVisible, screenshot, screenshotBothWidths }) {
  const feedUrl = process.env.NOVA_E2E_FEED_URL || ''
  const recommendation = process.env.NOVA_E2E_RECOMMENDATION || ''

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
}
