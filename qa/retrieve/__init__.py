"""Retrieve: answering a question from an open index, through the `qa.index.backend` seam only.
Query checks, filters, hybrid ranking as pure functions, scoring by the exact or the candidate
path, citations, the question encoder and its lock, the searcher that puts them together, the
question's language, and the reloadable searcher a server keeps, with the corpus changes it
indexes in the background."""
