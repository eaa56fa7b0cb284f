"""Index: the passage index on disk. Building it (plan, encode, write), versioned build folders
and the atomic CURRENT pointer, immutable segments, the catalog, document and passage records,
row files read on demand, BM25 postings, HNSW graphs, and opening a build for searching."""
