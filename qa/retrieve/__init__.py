"""Retrieve: answering a question from an open index. Query checks, filters, hybrid ranking
as pure functions, the searcher that scores and cites, the question's language, and the
reloadable searcher a server keeps, with the corpus changes it indexes in the background."""
