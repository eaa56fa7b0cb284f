"""Ingest: reading document files into `Document`s (text, HTML, JSONL; PDF and DOCX in a worker
process under per-file limits), finding the prose in scraped text without moving a character,
cutting passages that are exact slices, and editing the corpus folder. The bottom of the
pipeline: it imports nothing else of qa but config, errors and durable."""
