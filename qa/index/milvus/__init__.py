"""The index on Milvus: a second backend behind `qa.index.backend.IndexBackend`.

`engine` connects (pymilvus, imported lazily) and turns the engine's failures into
`BackendUnavailable`; `schema` lays out the collections; `writer` builds into them (the segment
store's plan and encoding, committed document by document); `reader` opens them for searching
(`MilvusIndex`), with `lexical` computing BM25 as the segment store does and `expressions`
pushing filters down to the engine; `state` keeps the manifest, version and tombstones."""
