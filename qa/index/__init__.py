"""Index: the passage index on disk. Building it (plan, encode, write, over the previous build),
the typed manifest and its one compatibility check, versioned build folders and the atomic
CURRENT pointer, immutable segments, the catalog, document and passage records, row files read
on demand, BM25 postings, HNSW graphs, which corpus a build came from (provenance), the servers
serving a folder, and opening a build for searching. `backend` is the seam search talks to."""
