"""Knowledge: sources Nova crawls for you, their crawl records, and the credential vault they use."""
