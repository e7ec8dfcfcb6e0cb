import { QueryClientProvider } from '@tanstack/react-query'
import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { createMemoryRouter, MemoryRouter, RouterProvider } from 'react-router'
import { describe, expect, it } from 'vitest'

import type { Feed, IntelStats, Recommendation } from '../api/intel'
import type { Crawl, Credential, KnowledgeSource } from '../api/knowledge'
import { Layout } from '../components/Layout'
import { Toaster } from '../components/Toaster'
import { createQueryClient } from '../queryClient'
import { json, notFound, stubApi, type Call } from '../test/fetch'
import { renderPage } from '../test/render'
import { Component as SourcesPage } from './Sources'

const NOW = '2026-12-04T21:00:00Z'

function feed(overrides: Partial<Feed> & Pick<Feed, 'id' | 'name'>): Feed {
  return {
    url: 'https://huggingface.co/blog/feed.xml',
    type: 'rss',
    category: 'blog',
    check_interval_seconds: 3600,
    enabled: true,
    last_checked_at: NOW,
    next_check_at: '2026-12-04T22:00:00Z',
    error_count: 0,
    last_error: null,
    items_total: 12,
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  }
}

function recommendation(overrides: Partial<Recommendation> & Pick<Recommendation, 'id' | 'title'>): Recommendation {
  return {
    theme: 'efficient inference',
    summary: 'TGI reports 2.3x throughput with a draft model.',
    relevance: 0.8,
    status: 'new',
    item_ids: ['i-1', 'i-2'],
    goal_id: null,
    comments: [],
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  }
}

function source(overrides: Partial<KnowledgeSource> & Pick<KnowledgeSource, 'id' | 'name'>): KnowledgeSource {
  return {
    kind: 'site',
    url: 'https://docs.example.com/',
    credential_id: null,
    crawl: { max_pages: 50, max_depth: 3, allowed_hosts: [], refresh_interval_seconds: 86_400 },
    enabled: true,
    status: 'idle',
    last_crawl_at: null,
    last_error: null,
    error_count: 0,
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  }
}

function crawl(overrides: Partial<Crawl> & Pick<Crawl, 'id'>): Crawl {
  return {
    source_id: 's-1',
    status: 'running',
    fetched: 0,
    queued: 0,
    ingested: 0,
    unchanged: 0,
    skipped: {},
    error: null,
    log: [],
    started_at: NOW,
    finished_at: null,
    ...overrides,
  }
}

const stats: IntelStats = {
  feeds: 2,
  feeds_enabled: 2,
  feeds_failing: 1,
  items_total: 30,
  items_last_24h: 7,
  undigested_items: 3,
  recommendations_by_status: { new: 1 },
}

type Handler = (call: Call) => unknown
/** Answers by "METHOD /path" (query string ignored); everything the test did not set up is an empty list. */
function stubSources(routes: Record<string, Handler>) {
  return stubApi((call) => {
    const path = call.url.split('?')[0]!
    const handler = routes[`${call.method} ${path}`]
    if (handler) return handler(call)
    if (call.method === 'GET' && path === '/api/v1/intel/stats') return stats
    if (call.method === 'GET') return []
    return notFound(call)
  })
}

/** The page with the app's query client, whose failed actions become toasts as on every page. */
function renderWithAppClient() {
  return render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={['/sources']}>
        <SourcesPage />
        <Toaster />
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

describe('Sources page', () => {
  it('shows each feed with its type, status and last error', async () => {
    stubSources({
      'GET /api/v1/intel/feeds': () => [
        feed({ id: 'f-1', name: 'HF blog' }),
        feed({ id: 'f-2', name: 'Broken feed', url: 'https://example.com/rss', error_count: 3, last_error: 'HTTP 500 from example.com' }),
        feed({ id: 'f-3', name: 'Paused page', type: 'page', enabled: false }),
      ],
    })
    renderPage(<SourcesPage />, { path: '/sources' })

    const ok = await screen.findByRole('article', { name: /HF blog/ })
    expect(within(ok).getByText('ok')).toBeTruthy()
    expect(within(ok).getByText('RSS')).toBeTruthy()
    const broken = screen.getByRole('article', { name: /Broken feed/ })
    expect(within(broken).getByText('failing')).toBeTruthy()
    expect(within(broken).getByText(/3 failed checks in a row/)).toBeTruthy()
    expect(within(broken).getByText(/HTTP 500 from example.com/)).toBeTruthy()
    const paused = screen.getByRole('article', { name: /Paused page/ })
    expect(within(paused).getByText('paused')).toBeTruthy()
    expect(within(paused).getByRole('button', { name: 'Resume Paused page' })).toBeTruthy()
    expect((within(paused).getByRole('button', { name: 'Check Paused page now' }) as HTMLButtonElement).disabled).toBe(true)
    // The summary line counts failing feeds and waiting recommendations.
    const summary = await screen.findByLabelText('Intel summary')
    expect(within(summary).getByText('failing').nextElementSibling?.textContent).toBe('1')
    expect(within(summary).getByText('new recommendations').nextElementSibling?.textContent).toBe('1')
  })

  it('adds a feed with the type detected from the URL, or the type chosen', async () => {
    let feeds: Feed[] = []
    const calls = stubSources({
      'GET /api/v1/intel/feeds': () => feeds,
      'POST /api/v1/intel/feeds': (call) => {
        const body = call.body as { url: string; type?: Feed['type'] }
        const created = feed({ id: `f-${feeds.length + 1}`, name: body.url, url: body.url, type: body.type ?? 'rss', last_checked_at: null })
        feeds = [...feeds, created]
        return json(created, 201)
      },
    })
    renderPage(<SourcesPage />, { path: '/sources' })
    await screen.findByText('No feeds yet')

    await userEvent.click(screen.getByRole('button', { name: 'Add feed' }))
    let dialog = screen.getByRole('dialog', { name: 'Add feed' })
    await userEvent.type(within(dialog).getByLabelText('URL'), 'https://www.reddit.com/r/LocalLLaMA')
    expect(within(dialog).getByTestId('detected-feed-type').textContent).toBe('Detected: Reddit listing')
    await userEvent.clear(within(dialog).getByLabelText('URL'))
    await userEvent.type(within(dialog).getByLabelText('URL'), 'https://huggingface.co/blog/feed.xml')
    expect(within(dialog).getByTestId('detected-feed-type').textContent).toBe('Detected: RSS')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add feed' }))

    expect(await screen.findByRole('article', { name: /huggingface\.co\/blog\/feed\.xml/ })).toBeTruthy()
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    // No type sent: the orchestrator detects it.
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      url: 'https://huggingface.co/blog/feed.xml',
      check_interval_seconds: 3600,
      enabled: true,
    })

    await userEvent.click(screen.getByRole('button', { name: 'Add feed' }))
    dialog = screen.getByRole('dialog', { name: 'Add feed' })
    await userEvent.type(within(dialog).getByLabelText('URL'), 'https://example.com/changelog')
    await userEvent.selectOptions(within(dialog).getByLabelText('Type'), 'atom')
    await userEvent.clear(within(dialog).getByLabelText('Check every (minutes)'))
    await userEvent.type(within(dialog).getByLabelText('Check every (minutes)'), '30')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add feed' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(calls.filter((c) => c.method === 'POST')[1]?.body).toEqual({
      url: 'https://example.com/changelog',
      type: 'atom',
      check_interval_seconds: 1800,
      enabled: true,
    })
  })

  it('checks the URL and interval before sending and shows the refusal of the server', async () => {
    const calls = stubSources({
      'POST /api/v1/intel/feeds': () => json({ detail: 'a feed with url https://example.com/rss exists already' }, 409),
    })
    renderPage(<SourcesPage />, { path: '/sources' })
    await screen.findByText('No feeds yet')
    await userEvent.click(screen.getByRole('button', { name: 'Add feed' }))
    const dialog = screen.getByRole('dialog', { name: 'Add feed' })

    await userEvent.type(within(dialog).getByLabelText('URL'), 'ftp://example.com/rss')
    await userEvent.clear(within(dialog).getByLabelText('Check every (minutes)'))
    await userEvent.type(within(dialog).getByLabelText('Check every (minutes)'), '1')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add feed' }))
    expect(within(dialog).getByText('An http:// or https:// address, without spaces.')).toBeTruthy()
    expect(within(dialog).getByText(/A whole number of minutes from 5/)).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)

    await userEvent.clear(within(dialog).getByLabelText('URL'))
    await userEvent.type(within(dialog).getByLabelText('URL'), 'https://example.com/rss')
    await userEvent.clear(within(dialog).getByLabelText('Check every (minutes)'))
    await userEvent.type(within(dialog).getByLabelText('Check every (minutes)'), '60')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add feed' }))
    expect(await within(dialog).findByText('a feed with url https://example.com/rss exists already')).toBeTruthy()
    expect((within(dialog).getByLabelText('URL') as HTMLInputElement).value).toBe('https://example.com/rss')
  })

  it('asks for a check now and pauses a feed', async () => {
    let current = feed({ id: 'f-1', name: 'HF blog' })
    const calls = stubSources({
      'GET /api/v1/intel/feeds': () => [current],
      'POST /api/v1/intel/feeds/f-1/check': () => json(current, 202),
      'PATCH /api/v1/intel/feeds/f-1': (call) => {
        current = { ...current, ...(call.body as Partial<Feed>) }
        return current
      },
    })
    renderPage(<SourcesPage />, { path: '/sources' })

    await userEvent.click(await screen.findByRole('button', { name: 'Check HF blog now' }))
    expect(await screen.findByText(/will be checked on intel-worker's next poll/)).toBeTruthy()
    await userEvent.click(screen.getByRole('button', { name: 'Pause HF blog' }))
    expect(await screen.findByRole('button', { name: 'Resume HF blog' })).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ enabled: false })
  })

  it('approves a recommendation into a goal and links to it', async () => {
    let rec = recommendation({ id: 'r-1', title: 'Evaluate speculative decoding' })
    const calls = stubSources({
      'GET /api/v1/intel/recommendations': (call) => (call.url.includes('status=new') && rec.status !== 'new' ? [] : [rec]),
      'POST /api/v1/intel/recommendations/r-1/approve': () => {
        rec = { ...rec, status: 'approved', goal_id: 'g-42' }
        return rec
      },
    })
    renderPage(<SourcesPage />, { path: '/sources' })

    const card = await screen.findByRole('article', { name: 'Evaluate speculative decoding' })
    expect(within(card).getByText('relevance 80%')).toBeTruthy()
    expect(within(card).getByText('from 2 items')).toBeTruthy()
    await userEvent.click(within(card).getByRole('button', { name: 'Approve Evaluate speculative decoding' }))

    // The approved recommendation leaves the "New" list; its goal stays one click away.
    const created = await screen.findByRole('list', { name: 'Goals created' })
    expect(within(created).getByRole('link', { name: 'Open the goal' }).getAttribute('href')).toBe('/goals/g-42')
    await waitFor(() => expect(screen.queryByRole('article', { name: 'Evaluate speculative decoding' })).toBeNull())
    expect(await screen.findByText('Nothing new to decide')).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST' && c.url === '/api/v1/intel/recommendations/r-1/approve')).toBe(true)

    await userEvent.selectOptions(screen.getByLabelText('Show'), 'approved')
    const approved = await screen.findByRole('article', { name: 'Evaluate speculative decoding' })
    expect(within(approved).getByRole('link', { name: 'Open the goal' }).getAttribute('href')).toBe('/goals/g-42')
    expect(within(approved).queryByRole('button', { name: /Approve/ })).toBeNull()
  })

  it('digests the waiting items on request, and says why when the model could not', async () => {
    const calls = stubSources({
      'GET /api/v1/intel/stats': () => ({ ...stats, undigested_items: 3 }),
      // An unusable answer is reported in the body (200); the items wait for the next digest.
      'POST /api/v1/intel/recommendations/digest': () => ({
        items_considered: 3,
        recommendations: [],
        error: "the model's answer was not usable: no JSON object in the answer",
      }),
    })
    renderWithAppClient()

    await userEvent.click(await screen.findByRole('button', { name: 'Digest 3 waiting items' }))
    expect(await screen.findByText(/The digest did not work: the model's answer was not usable/)).toBeTruthy()
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/v1/intel/recommendations/digest'])
  })

  it('offers no digest while nothing waits for one', async () => {
    stubSources({ 'GET /api/v1/intel/stats': () => ({ ...stats, undigested_items: 0 }) })
    renderPage(<SourcesPage />, { path: '/sources' })
    await screen.findByLabelText('Intel summary')
    expect(screen.queryByRole('button', { name: /^Digest/ })).toBeNull()
  })

  it('dismisses a recommendation and comments on one', async () => {
    let rec = recommendation({ id: 'r-1', title: 'Try the new reranker' })
    const calls = stubSources({
      'GET /api/v1/intel/recommendations': () => [rec],
      'PATCH /api/v1/intel/recommendations/r-1': (call) => {
        rec = { ...rec, status: (call.body as { status: Recommendation['status'] }).status }
        return rec
      },
      'POST /api/v1/intel/recommendations/r-1/comments': (call) => {
        rec = {
          ...rec,
          comments: [{ id: 'c-1', author: 'admin', body: (call.body as { body: string }).body, created_at: NOW }],
        }
        return json(rec, 201)
      },
    })
    renderPage(<SourcesPage />, { path: '/sources' })

    const card = await screen.findByRole('article', { name: 'Try the new reranker' })
    await userEvent.click(within(card).getByText('Comment'))
    await userEvent.type(within(card).getByLabelText('Add a comment'), 'Only after the eval set is ready.')
    await userEvent.click(within(card).getByRole('button', { name: 'Add comment' }))
    expect(await within(card).findByText('Only after the eval set is ready.')).toBeTruthy()
    expect(within(card).getByText('1 comment')).toBeTruthy()

    await userEvent.click(within(card).getByRole('button', { name: 'Dismiss Try the new reranker' }))
    expect(await within(card).findByRole('button', { name: 'Restore Try the new reranker' })).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ status: 'dismissed' })
  })

  it('adds a site source with its crawl settings', async () => {
    const calls = stubSources({
      'POST /api/v1/knowledge/sources': (call) => json(source({ id: 's-1', name: (call.body as { name: string }).name, status: 'queued' }), 201),
    })
    renderPage(<SourcesPage />, { path: '/sources' })
    await screen.findByText('No knowledge sources yet')

    await userEvent.click(screen.getByRole('button', { name: 'Add source' }))
    const dialog = screen.getByRole('dialog', { name: 'Add knowledge source' })
    await userEvent.type(within(dialog).getByLabelText('Name'), 'Project docs')
    await userEvent.type(within(dialog).getByLabelText('Start page URL'), 'https://docs.example.com/')
    await userEvent.clear(within(dialog).getByLabelText('Max pages'))
    await userEvent.type(within(dialog).getByLabelText('Max pages'), '20')
    await userEvent.type(within(dialog).getByLabelText('Allowed hosts (optional)'), 'https://bad/host')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add source' }))
    expect(within(dialog).getByText(/is not a host name/)).toBeTruthy()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)

    await userEvent.clear(within(dialog).getByLabelText('Allowed hosts (optional)'))
    await userEvent.type(within(dialog).getByLabelText('Allowed hosts (optional)'), 'docs.example.com, blog.example.com')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add source' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'Project docs',
      kind: 'site',
      url: 'https://docs.example.com/',
      crawl: { max_pages: 20, max_depth: 3, allowed_hosts: ['docs.example.com', 'blog.example.com'], refresh_interval_seconds: 86_400 },
    })
  })

  it('starts a crawl and follows its progress live until it ends, then shows it in the history', async () => {
    let current = source({ id: 's-1', name: 'Project docs' })
    let crawls: Crawl[] = []
    let reads = 0
    const calls = stubSources({
      'GET /api/v1/knowledge/sources': () => {
        // The worker claims the source on the first read after the request, and finishes a few reads later.
        if (current.status === 'queued') {
          current = { ...current, status: 'crawling' }
          crawls = [crawl({ id: 'c-1', fetched: 3, queued: 9, skipped: { robots: 1 } })]
        }
        return [current]
      },
      'POST /api/v1/knowledge/sources/s-1/crawl': () => {
        current = { ...current, status: 'queued' }
        return json(current, 202)
      },
      'GET /api/v1/knowledge/sources/s-1/crawls': () => {
        reads += 1
        if (reads >= 3 && crawls[0]?.status === 'running') {
          crawls = [crawl({ id: 'c-1', fetched: 12, queued: 0, ingested: 11, skipped: { robots: 1, off_host: 4 }, log: ['fetched https://docs.example.com/end'] })]
        }
        return crawls
      },
    })
    renderPage(<SourcesPage />, { path: '/sources' })

    await userEvent.click(await screen.findByRole('button', { name: 'Crawl Project docs now' }))
    const live = await screen.findByTestId('live-crawl', {}, { timeout: 5_000 })
    expect(within(live).getByText(/Crawling: 3 of at most 50 pages/)).toBeTruthy()
    expect(within(live).getByText('robots 1')).toBeTruthy()
    // Read again every two seconds while it runs.
    expect(await within(live).findByText(/Crawling: 12 of at most 50 pages/, {}, { timeout: 8_000 })).toBeTruthy()
    expect(within(live).getByText('robots 1, off host 4')).toBeTruthy()
    expect((screen.getByRole('button', { name: 'Crawl Project docs now' }) as HTMLButtonElement).disabled).toBe(true)
    expect(calls.filter((c) => c.url.includes('/crawls')).length).toBeGreaterThanOrEqual(3)

    current = { ...current, status: 'idle', last_crawl_at: NOW }
    crawls = [{ ...crawls[0]!, status: 'complete', finished_at: '2026-12-04T21:00:42Z' }]
    await waitFor(() => expect(screen.queryByTestId('live-crawl')).toBeNull(), { timeout: 8_000 })

    await userEvent.click(screen.getByText('Crawl history'))
    const history = await screen.findByRole('list', { name: 'Crawls of Project docs' })
    expect(within(history).getByText('complete')).toBeTruthy()
    expect(within(history).getByText('took 42 s')).toBeTruthy()
    await userEvent.click(within(history).getByText('Log (1)'))
    expect(within(history).getByText('fetched https://docs.example.com/end')).toBeTruthy()
  }, 20_000)

  it('says a crawl is refused while one runs', async () => {
    stubSources({
      'GET /api/v1/knowledge/sources': () => [source({ id: 's-1', name: 'Project docs' })],
      'POST /api/v1/knowledge/sources/s-1/crawl': () => json({ detail: 'source s-1 is crawling already' }, 409),
    })
    renderWithAppClient()
    await userEvent.click(await screen.findByRole('button', { name: 'Crawl Project docs now' }))
    expect(await screen.findByText('source s-1 is crawling already')).toBeTruthy()
  })

  it('saves a credential, shows only its masked tail, validates and deletes it', async () => {
    const token = 'ghp_supersecretvalue1234'
    let credentials: Credential[] = []
    const calls = stubSources({
      'GET /api/v1/knowledge/credentials': () => credentials,
      'POST /api/v1/knowledge/credentials': (call) => {
        const body = call.body as { name: string; platform: 'github'; secret: string }
        credentials = [{ id: 'k-1', name: body.name, platform: body.platform, masked: `••••${body.secret.slice(-4)}`, created_at: NOW }]
        return json(credentials[0], 201)
      },
      'POST /api/v1/knowledge/credentials/k-1/validate': () => {
        credentials = [{ ...credentials[0]!, validation_requested_at: NOW }]
        return json(credentials[0], 202)
      },
      'DELETE /api/v1/knowledge/credentials/k-1': () => {
        credentials = []
        return json(null, 204)
      },
    })
    renderPage(<SourcesPage />, { path: '/sources' })
    await screen.findByText('No credentials stored')

    await userEvent.type(screen.getByLabelText('Credential name'), 'github-personal')
    await userEvent.type(screen.getByLabelText('Token'), token)
    expect(screen.getByLabelText('Token').getAttribute('type')).toBe('password')
    await userEvent.click(screen.getByRole('button', { name: 'Save credential' }))

    const table = await screen.findByRole('table', { name: 'Credentials' })
    expect(await within(table).findByText('••••1234')).toBeTruthy()
    expect(within(table).getByText('not checked yet')).toBeTruthy()
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'github-personal', platform: 'github', secret: token })
    // The token is gone from the page once the server has it.
    expect((screen.getByLabelText('Token') as HTMLInputElement).value).toBe('')
    expect(document.body.innerHTML).not.toContain(token)

    await userEvent.click(within(table).getByRole('button', { name: 'Validate github-personal' }))
    expect(await within(table).findByText('checking…')).toBeTruthy()

    await userEvent.click(within(table).getByRole('button', { name: 'Delete github-personal' }))
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete credential' }))
    expect(await screen.findByText('No credentials stored')).toBeTruthy()
  })

  it('shows the verdict of a validation', async () => {
    stubSources({
      'GET /api/v1/knowledge/credentials': () => [
        { id: 'k-1', name: 'old-token', platform: 'github', masked: '••••dead', valid: false, validation_message: 'GitHub answered 401: Bad credentials', validated_at: NOW, created_at: NOW },
      ],
    })
    renderPage(<SourcesPage />, { path: '/sources' })
    const table = await screen.findByRole('table', { name: 'Credentials' })
    const row = within(table).getByRole('row', { name: /old-token/ })
    expect(within(row).getByText('invalid')).toBeTruthy()
    expect(within(row).getByText('GitHub answered 401: Bad credentials')).toBeTruthy()
  })

  it('asks for the admin secret when an admin action is refused with 401, then works with it', async () => {
    const rec = recommendation({ id: 'r-1', title: 'Evaluate speculative decoding' })
    const secret = 'right-secret-0123456789'
    const calls = stubApi((call) => {
      const path = call.url.split('?')[0]!
      if (call.method === 'POST' && path === '/api/v1/intel/recommendations/r-1/approve') {
        return call.headers.get('X-Admin-Secret') === secret
          ? { ...rec, status: 'approved', goal_id: 'g-1' }
          : json({ detail: 'invalid admin secret' }, 401)
      }
      if (path === '/api/v1/intel/recommendations') return [rec]
      if (path === '/api/v1/intel/stats') return stats
      if (path.startsWith('/api/v1/intel/') || path.startsWith('/api/v1/knowledge/')) return []
      // The layout's own requests (task notifications) are not this page's business.
      return notFound(call)
    })
    localStorage.setItem('nova.adminSecret', 'stale-secret')
    const router = createMemoryRouter([{ path: '/', Component: Layout, children: [{ path: 'sources', Component: SourcesPage }] }], {
      initialEntries: ['/sources'],
    })
    render(
      <QueryClientProvider client={createQueryClient()}>
        <RouterProvider router={router} />
      </QueryClientProvider>,
    )

    const card = await screen.findByRole('article', { name: 'Evaluate speculative decoding' })
    await userEvent.click(within(card).getByRole('button', { name: 'Approve Evaluate speculative decoding' }))
    const dialog = await screen.findByRole('dialog', { name: 'Admin secret' })
    expect(within(dialog).getByText(/invalid admin secret/)).toBeTruthy()
    await userEvent.clear(within(dialog).getByLabelText('Secret'))
    await userEvent.type(within(dialog).getByLabelText('Secret'), secret)
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())

    await userEvent.click(within(card).getByRole('button', { name: 'Approve Evaluate speculative decoding' }))
    expect(await screen.findByRole('link', { name: 'Open the goal' })).toBeTruthy()
    expect(calls.filter((c) => c.url === '/api/v1/intel/recommendations/r-1/approve').map((c) => c.headers.get('X-Admin-Secret'))).toEqual([
      'stale-secret',
      secret,
    ])
  })

  it('shows a 403 refusal as the server says it', async () => {
    stubSources({
      'GET /api/v1/intel/recommendations': () => [recommendation({ id: 'r-1', title: 'Evaluate speculative decoding' })],
      'POST /api/v1/intel/recommendations/r-1/approve': () => json({ detail: 'only the admin may approve a recommendation' }, 403),
    })
    renderWithAppClient()
    const card = await screen.findByRole('article', { name: 'Evaluate speculative decoding' })
    await userEvent.click(within(card).getByRole('button', { name: 'Approve Evaluate speculative decoding' }))
    expect(await screen.findByText('only the admin may approve a recommendation')).toBeTruthy()
    expect(screen.queryByRole('dialog', { name: 'Admin secret' })).toBeNull()
  })
})
