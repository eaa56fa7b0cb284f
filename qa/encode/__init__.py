"""Encode: text to normalised vectors. The `Embedder` protocol, the sentence-transformers
encoder, the ONNX question encoders and the measured choice among them on this CPU, CPU probing,
and the cache that reuses a previous build's vectors by content."""
