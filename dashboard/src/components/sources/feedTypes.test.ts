import { describe, expect, it } from 'vitest'

import { detectFeedType, intervalText } from './feedTypes'

describe('detectFeedType', () => {
  // The orchestrator's cases (orchestrator/tests/test_intel_knowledge.py): the preview must say what it saves.
  it.each([
    ['https://www.reddit.com/r/LocalLLaMA/.json', 'reddit_json'],
    ['https://github.com/trending/python?since=daily', 'github_trending'],
    ['https://github.com/astral-sh/uv/releases.atom', 'github_releases'],
    ['https://simonwillison.net/atom/everything/', 'rss'],
    ['https://example.com/feed.xml', 'rss'],
    ['https://example.com/posts.atom', 'atom'],
    ['https://example.com/changelog', 'page'],
  ])('reads %s as %s, as the orchestrator does', (url, type) => {
    expect(detectFeedType(url)).toBe(type)
  })

  it('says nothing about what is not yet a web address', () => {
    expect(detectFeedType('')).toBeNull()
    expect(detectFeedType('example.com/feed.xml')).toBeNull()
    expect(detectFeedType('ftp://example.com/feed.xml')).toBeNull()
  })
})

describe('intervalText', () => {
  it('uses the largest whole unit', () => {
    expect(intervalText(300)).toBe('5 min')
    expect(intervalText(7200)).toBe('2 h')
    expect(intervalText(86_400)).toBe('1 d')
    expect(intervalText(5400)).toBe('90 min')
  })
})
