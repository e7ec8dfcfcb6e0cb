"""Intel: feeds, their items (deduplicated by content hash) and the recommendations digested from them."""
