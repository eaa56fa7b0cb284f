"""Retrieve: answering a question from an open index. Searching and citing go through the
`qa.index.backend` seam only; reloading a served build (`live`) opens the segment store.
Query checks, filters, hybrid ranking as pure functions, scoring by the exact or the candidate
path, citations, the question encoder and its lock, the searcher that puts them together, the
question's language, and the reloadable searcher a server keeps, with the corpus changes it
indexes in the background."""
