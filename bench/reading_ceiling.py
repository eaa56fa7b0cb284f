"""How far surface features and MiniLM go on issue 19's targets: three experiments on SQuAD's tune
articles, each trained on one half (articles 0-11 or 12-23) and measured on the other.

  highlight  Picking the answering sentence of the top passage (Highlight). The product's rule
             (fused sentence score + 1 for a typed sentence) against a learned one: a conditional
             logit over each sentence's scores, question-word coverage, word pairs, answer type,
             position, length and its neighbours' scores; with --windows, also the cosine of the
             sentence with its previous and with its next sentence (encoded here, ~2 min).
  hyponym    A "which X" feature for the reranker: the sentence names something right after X
             and a cue ("drones, notably the Bayraktar TB2", "drones such as the Harop") or just
             before it ("the Vistula river"). R@1 and R@5 of the gold passage among the ten
             reranked, with and without it.
  late       Late interaction (ColBERT's MaxSim) over the model's own contextual token vectors,
             stored as int8 (--dims N: projected to N first): a feature for the reranker, and
             each sentence's MaxSim, read in its passage, for the highlight.
  examples   The default corpus's three questions of issue 19: their ten best passages by fused
             score, in MaxSim order (needs the default index: `scripts/serve` builds it).
  adapter    A linear map on question vectors only (no corpus re-encoding), trained to put the
             gold passage first by cosine; dense R@1 over every passage.

    .venv/bin/python bench/reading_ceiling.py highlight [--windows]
    .venv/bin/python bench/reading_ceiling.py hyponym
    .venv/bin/python bench/reading_ceiling.py late [--dims 64]
    .venv/bin/python bench/reading_ceiling.py adapter [--strength 0.1]
    .venv/bin/python bench/reading_ceiling.py examples

Uses the evaluation index in .eval-cache/dev-v1.1 (built by `qa eval squad`). Results:
bench/results/ranking-notes.md, section 9.
"""

from __future__ import annotations

import argparse
import itertools
import re
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from qa.encode.embedder import resolve_model_path
from qa.eval import measure
from qa.eval.datasets import Question
from qa.ingest.cleaning import normalize_for_embedding
from qa.retrieve import answers, rerank
from qa.retrieve.evidence import content_words
from qa.retrieve.searcher import Searcher

HALF = 12  # articles 0-11 against 12-23


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=("highlight", "hyponym", "late", "maxsim", "adapter", "examples"))
    parser.add_argument("--dims", type=int, default=0, help="late: project token vectors to this many (0: keep 384)")
    parser.add_argument("--sentences", action="store_true", help="late: token vectors of each sentence encoded alone")
    parser.add_argument("--windows", action="store_true", help="highlight: add the cosines of sentence windows")
    parser.add_argument("--strength", type=float, default=0.1, help="adapter: L2 pull towards the identity")
    args = parser.parse_args()
    if args.experiment == "examples":
        return examples(Searcher.open())
    searcher, questions, _ = measure.squad_split("tune")
    if args.experiment == "highlight":
        highlight(searcher, questions, args.windows)
    elif args.experiment == "hyponym":
        hyponym(searcher, questions)
    elif args.experiment == "late":
        late(searcher, questions, args.dims, args.sentences)
    elif args.experiment == "maxsim":
        maxsim_variants(searcher, questions)
    else:
        adapter(searcher, questions, args.strength)


def _encoded(searcher: Searcher, text: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A question's vector and token vectors, as the searcher encodes it."""
    vectors, tokens = searcher.encode([text])
    return vectors[0], tokens[0]


# highlight ------------------------------------------------------------------------------------


def highlight(searcher: Searcher, questions: list[Question], windows: bool) -> None:
    index = searcher.index
    cases = []
    for q in questions:
        vector, tokens = _encoded(searcher, q.text)
        ranked = searcher.ranked(q.text, vector)
        assert ranked is not None
        scored, fused = ranked
        kind = answers.asks_for(q.text)
        i = int(np.argmax(rerank.rerank(index, q.text, kind, fused, scored, tokens)))
        passage = index.passage(scored.row(i))
        texts = [passage.text[a:b] for a, b in passage.sentences]
        labels = np.array([measure.holds_answer(t, q.answers) for t in texts])
        if not labels.any() or labels.all():  # the top passage lacks the answer, or any sentence will do
            continue
        typed = answers.typed_sentences(q.text, kind, passage.text, passage.sentences).astype(float)
        rule = scored.sentence_scores[scored.sentences[i]] + answers.HIGHLIGHT_TYPE_WEIGHT * typed
        x = _sentence_features(index, q.text, kind, texts, scored.sentence_scores[scored.sentences[i]], typed)
        cases.append({"group": q.group, "labels": labels, "rule": rule, "x": x, "texts": texts, "vector": vector})
    if windows:
        _add_windows(searcher, cases)
    _highlight_halves(cases, f"learned{', windows' if windows else ''}")


def _highlight_halves(cases: list[dict], name: str) -> None:
    """Highlight on one half's top passages, by the product's rule and by a conditional logit
    trained on the other half."""
    for held_low in (True, False):
        train = [c for c in cases if (c["group"] < HALF) != held_low]
        test = [c for c in cases if (c["group"] < HALF) == held_low]
        w = _conditional_logit(train)
        before = np.mean([c["labels"][np.argmax(c["rule"])] for c in test])
        after = np.mean([c["labels"][np.argmax(c["x"] @ w)] for c in test])
        print(f"held out articles {'0-11' if held_low else '12-23'} ({len(test)} top passages): "
              f"Highlight {before:.4f} (rule) -> {after:.4f} ({name})")  # fmt: skip


def _sentence_features(index, query: str, kind: str, texts: list[str], score: np.ndarray, typed: np.ndarray) -> np.ndarray:
    pairs = set(itertools.pairwise(content_words(index, query)))
    tokens = rerank._tokens(texts)
    coverage = rerank.coverages(index, query, texts)
    held_pairs = np.array([len(pairs & set(itertools.pairwise(t))) / max(len(pairs), 1) for t in tokens])
    n = len(texts)
    position = np.arange(n)
    columns = [score, coverage, held_pairs, typed, position == 0, position / max(n - 1, 1)]
    columns += [np.log([max(len(t), 1) for t in texts]), _shift(score, 1), _shift(score, -1)]
    columns += [_shift(coverage, 1), _shift(coverage, -1), *(typed * (kind == k) for k in answers.KINDS)]
    return np.column_stack([np.asarray(c, dtype=float) for c in columns])


def _shift(values: np.ndarray, by: int) -> np.ndarray:
    """The previous (by=1) or next (by=-1) sentence's value; the passage's lowest at its edge."""
    pad = np.full(abs(by), values.min())
    return np.concatenate([pad, values[:-by]]) if by > 0 else np.concatenate([values[-by:], pad])


def _add_windows(searcher: Searcher, cases: list[dict]) -> None:
    def window(texts: list[str], j: int, step: int) -> str:
        k = j + step
        pair = [texts[min(j, k)], texts[max(j, k)]] if 0 <= k < len(texts) else [texts[j]]
        return normalize_for_embedding(" ".join(pair))

    wanted = {window(c["texts"], j, s) for c in cases for j in range(len(c["texts"])) for s in (-1, 1)}
    keys = sorted(wanted)
    vectors = dict(zip(keys, searcher.passage_encoder().encode(keys, batch_size=64), strict=True))
    for c in cases:
        for step in (-1, 1):
            cosine = np.array([vectors[window(c["texts"], j, step)] @ c["vector"] for j in range(len(c["texts"]))])
            c["x"] = np.column_stack([c["x"], cosine])


def _conditional_logit(cases: list[dict]) -> np.ndarray:
    """Weights that rank each passage's answering sentences above its others: a logistic
    regression on the feature differences of every (answering, other) pair of one passage."""
    diffs = [c["x"][i] - c["x"][j] for c in cases for i in np.flatnonzero(c["labels"]) for j in np.flatnonzero(~c["labels"])]
    x = np.array(diffs)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    y = np.r_[np.ones(len(x)), np.zeros(len(x))]
    model = LogisticRegression(C=1.0, fit_intercept=False, max_iter=5000).fit(np.r_[x, -x] / scale, y)
    return model.coef_[0] / scale


# hyponym --------------------------------------------------------------------------------------

_AUX = frozenset(re.findall(r"\w+", "did does do is was were are has have had can could will would should may might must"))
_PREPOSITIONS = frozenset(re.findall(r"\w+", "of in on at for by with from to that"))
_WHICH = re.compile(r"\b(?:which|what)\s+(?:(?:kind|type|sort|form)s?\s+of\s+)?([\w'’ -]+)", re.IGNORECASE)
_CUE_THEN_NAME = re.compile(
    r"(?:,?\s*(?:such as|including|notably|especially|particularly|namely|like|e\.g\.,?|i\.e\.,?)\s+|\s*[,:(–—]\s*)"
    r"(?:the\s+|an?\s+)?(?:[a-z][\w'’-]*\s+)?([A-Z][\w'’-]*)"
)
_NAME_BEFORE = re.compile(r"([A-Z][\w'’-]*)\s+(?:[\w'’-]+\s+)?$")


def focus(question: str) -> str:
    """The noun a "which X" / "what X" question asks about: the last word before an auxiliary
    ("which unmanned aircraft did"), else the first after the question word ("which river flows")."""
    m = _WHICH.search(question)
    if not m:
        return ""
    run: list[str] = []
    for word in m.group(1).split()[:5]:
        if word.casefold() in _AUX:
            break
        if word.casefold() in _PREPOSITIONS:
            run = run[:1]
            break
        run.append(word)
    else:
        run = run[:1]
    return run[-1].casefold() if run else ""


def names_focus(question: str, sentence: str) -> bool:
    """Whether the sentence names something new right after the focus noun and a cue, or just before it."""
    noun = focus(question)
    if len(noun) < 3:
        return False
    asked = {w.casefold().removesuffix("'s") for w in re.findall(r"[\w'’-]+", question)}
    stem = re.escape(noun.removesuffix("s"))
    for m in re.finditer(rf"\b{stem}(?:s|es)?\b", sentence, re.IGNORECASE):
        after = _CUE_THEN_NAME.match(sentence, m.end())
        before = _NAME_BEFORE.search(sentence[: m.start()])
        if after and after.group(1).casefold() not in asked:
            return True
        if before and before.start(1) > 0 and before.group(1).casefold() not in asked:
            return True
    return False


def hyponym(searcher: Searcher, questions: list[Question]) -> None:
    rows = _top_ten(searcher, questions)
    for row in rows:
        named = np.array([any(names_focus(row["question"], p.text[a:b]) for a, b in p.sentences) for p in row["passages"]])
        row["extra"] = np.column_stack([named, named.astype(float) - named.max()])
    gold = np.concatenate([r["gold"] for r in rows])
    fired = np.concatenate([r["extra"][:, 0] for r in rows]) > 0
    print(f"fires on {fired[gold].sum()} of {gold.sum()} gold passages, {fired[~gold].sum()} of {(~gold).sum()} others")
    _cross_check(rows, "the feature")


def _top_ten(searcher: Searcher, questions: list[Question]) -> list[dict]:
    """Each question's best rerank.DEPTH passages by fused score, their reranker features and labels."""
    rows = []
    for q in questions:
        vector, tokens = _encoded(searcher, q.text)
        ranked = searcher.ranked(q.text, vector)
        assert ranked is not None
        scored, fused = ranked
        top = rerank.top_of(fused)
        kind = answers.asks_for(q.text)
        x = rerank.features(searcher.index, q.text, kind, fused, scored, top)
        passages = [searcher.index.passage(scored.row(int(i))) for i in top]
        gold = np.array([p.doc_id in q.relevant for p in passages])
        first = int(np.argmax(rerank.rerank(searcher.index, q.text, kind, fused, scored, tokens)[top]))  # as served
        sentence_scores = [scored.sentence_scores[scored.sentences[int(i)]] for i in top]
        rows.append({"group": q.group, "question": q.text, "x": x, "passages": passages, "gold": gold, "kind": kind,
                     "answers": q.answers, "first": first, "sentence_scores": sentence_scores})  # fmt: skip
    return rows


def _cross_check(rows: list[dict], name: str) -> None:
    """The reranker's logistic regression (C 0.1) with and without the rows' `extra` columns,
    trained on one half of the articles and measured on the other."""
    for with_extra in (False, True):
        for held_low in (True, False):
            train = [r for r in rows if (r["group"] < HALF) != held_low]
            test = [r for r in rows if (r["group"] < HALF) == held_low]

            def of(r: dict, extra: bool = with_extra) -> np.ndarray:
                return np.hstack([r["x"], r["extra"]]) if extra else r["x"]

            x, y = np.vstack([of(r) for r in train]), np.concatenate([r["gold"] for r in train])
            mean, scale = x.mean(axis=0), x.std(axis=0)
            scale[scale < 1e-9] = 1.0
            model = LogisticRegression(C=0.1, max_iter=5000).fit((x - mean) / scale, y)
            r1, r5 = _recall(test, lambda r: ((of(r) - mean) / scale) @ model.coef_[0])  # noqa: B023
            extra = len(rows[0]["extra"][0])
            weights = f", weights {np.round(model.coef_[0][-extra:], 3).tolist()}" if with_extra else ""
            print(f"{'with' if with_extra else 'without'} {name}, held out "
                  f"{'0-11' if held_low else '12-23'}: R@1 {r1:.4f}, R@5 {r5:.4f}{weights}")  # fmt: skip


def _recall(rows: list[dict], score) -> tuple[float, float]:
    firsts = [r["gold"][np.argsort(-score(r), kind="stable")] for r in rows]
    return float(np.mean([g[:1].any() for g in firsts])), float(np.mean([g[:5].any() for g in firsts]))


# late interaction -----------------------------------------------------------------------------


def late(searcher: Searcher, questions: list[Question], dims: int, sentences: bool = False) -> None:
    """MaxSim (ColBERT's late interaction) over all-MiniLM-L6-v2's own contextual token vectors:
    for each question token, its best cosine to a token of the passage (or of one sentence, read
    in its passage's context), averaged. Token vectors int8, optionally projected to `dims`.
    With `sentences`, each sentence is encoded alone (as the index encodes sentences) and a
    passage's tokens are its sentences' tokens."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model_path(searcher.settings.model), device="cpu", local_files_only=True)
    rows = _top_ten(searcher, questions)
    if sentences:
        units = sorted({p.text[a:b] for r in rows for p in r["passages"] for a, b in p.sentences})
    else:
        units = sorted({p.text for r in rows for p in r["passages"]})
    started = time.perf_counter()
    encoded = model.encode([normalize_for_embedding(t) or t for t in units], output_value="token_embeddings", batch_size=32)
    print(f"{len(units)} {'sentences' if sentences else 'passages'}' token vectors in {time.perf_counter() - started:.0f} s")
    asked = model.encode([normalize_for_embedding(r["question"]) for r in rows], output_value="token_embeddings")
    sample = np.vstack([_unit(e) for e in encoded[:: max(len(encoded) // 500, 1)]])
    projection = np.linalg.svd(sample - sample.mean(axis=0), full_matrices=False)[2][:dims].T if dims else None
    tokens = {t: _int8(_unit(e), projection) for t, e in zip(units, encoded, strict=True)}
    width = dims or sample.shape[1]
    spans = {} if sentences else {t: _token_spans(model.tokenizer, t) for t in units}

    def passage_tokens(p) -> np.ndarray:
        return np.vstack([tokens[p.text[a:b]] for a, b in p.sentences]) if sentences else tokens[p.text]

    counts = [len(passage_tokens(p)) for r in rows[:200] for p in r["passages"]]
    print(f"tokens a passage: mean {np.mean(counts):.0f}; {width} int8 values a token: {np.mean(counts) * width / 1024:.1f} KiB")
    took = []
    for row, question in zip(rows, asked, strict=True):
        q = _int8(_unit(question), projection)
        started = time.perf_counter()
        sims = [q @ passage_tokens(p).T for p in row["passages"]]
        maxsim = np.array([s.max(axis=1).mean() for s in sims])
        took.append(time.perf_counter() - started)
        row["extra"] = np.column_stack([maxsim, maxsim - maxsim.max()])
        if sentences:
            row["sentence_maxsim"] = [
                np.array([(q @ tokens[p.text[a:b]].T).max(axis=1).mean() for a, b in p.sentences]) for p in row["passages"]
            ]
        else:
            row["sentence_maxsim"] = [
                _per_sentence(s, spans[p.text], p.text, p.sentences) for s, p in zip(sims, row["passages"], strict=True)
            ]
    print(f"MaxSim over ten passages: median {np.median(took) * 1000:.2f} ms")
    _cross_check(rows, f"MaxSim ({width} int8 dims)")
    _highlight_check(rows)


def maxsim_variants(searcher: Searcher, questions: list[Question]) -> None:
    """Ways of reading the index's token vectors (as built), each as the reranker's extra
    features in place of the shipped MaxSim: question tokens all, without punctuation, without
    stopwords and punctuation; and the passage's best sentence's MaxSim beside the passage's."""
    from qa.encode import late as late_tokens
    from qa.index.lexical import tokenize

    tokenizer = searcher.embedder._embedder._tokenizer  # type: ignore[attr-defined]  # the ONNX encoder CachedEmbedder wraps
    rows = []
    for q in questions:
        vector, tokens = _encoded(searcher, q.text)
        ranked = searcher.ranked(q.text, vector)
        assert ranked is not None and tokens is not None
        scored, fused = ranked
        top = rerank.top_of(fused)
        kind = answers.asks_for(q.text)
        blocks = rerank.token_blocks(searcher.index, scored, top, tokens)
        assert blocks is not None
        words = tokenizer.encode(normalize_for_embedding(q.text)).tokens[1:-1][: len(tokens)]
        wordy = np.array([any(c.isalnum() for c in w) for w in words])
        content = np.array([bool(tokenize([w.removeprefix("##")])[0]) for w in words]) & wordy
        variants = {}
        for name, keep in (("all", np.ones(len(tokens), bool)), ("words", wordy), ("content", content)):
            qt = tokens[keep] if keep.any() else tokens
            m = np.array([late_tokens.maxsim(qt, b.passage()) for b in blocks])
            variants[name] = np.column_stack([m, m - m.max()])
        best = np.array([late_tokens.sentence_maxsims(tokens, b).max() if len(b.starts) else 0.0 for b in blocks])
        variants["all+sentence"] = np.column_stack([variants["all"], best, best - best.max()])
        x = rerank.features(searcher.index, q.text, kind, fused, scored, top)
        gold = np.array([searcher.index.passage(scored.row(int(i))).doc_id in q.relevant for i in top])
        rows.append({"group": q.group, "x": x, "gold": gold, "variants": variants})
    for name in rows[0]["variants"]:
        for r in rows:
            r["extra"] = r["variants"][name]
        _cross_check(rows, f"MaxSim over {name}")


EXAMPLES = (
    "Which drones did Azerbaijan use in the 2020 war?",
    "Which Turkish-made unmanned aircraft did Azerbaijan rely on?",
    "Who was Armenia's defence minister in 2022?",
)


def examples(searcher: Searcher) -> None:
    """Issue 19's default-corpus questions: their ten best passages by fused score, in MaxSim order."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model_path(searcher.settings.model), device="cpu", local_files_only=True)
    for question in EXAMPLES:
        ranked = searcher.ranked(question, _encoded(searcher, question)[0])
        assert ranked is not None
        scored, fused = ranked
        top = rerank.top_of(fused)
        passages = [searcher.index.passage(scored.row(int(i))) for i in top]
        asked = _unit(model.encode([normalize_for_embedding(question)], output_value="token_embeddings")[0])
        encoded = model.encode([normalize_for_embedding(p.text) for p in passages], output_value="token_embeddings")
        maxsim = np.array([(asked @ _unit(e).T).max(axis=1).mean() for e in encoded])
        print(question)
        for n in np.argsort(-maxsim, kind="stable"):
            print(f"  MaxSim {maxsim[n]:.3f}  fused rank {n + 1:2d}  {passages[n].text[:80]!r}")


def _unit(vectors) -> np.ndarray:
    """Token vectors without [CLS] and [SEP], unit length."""
    v = np.asarray(vectors, dtype=np.float32)[1:-1]
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


def _int8(v: np.ndarray, projection: np.ndarray | None) -> np.ndarray:
    """As stored: projected (then unit length again) and rounded to int8, read back as float."""
    if projection is not None:
        v = v @ projection
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    return np.round(v * 127).astype(np.int8).astype(np.float32) / 127


def _token_spans(tokenizer, text: str) -> np.ndarray | None:
    """Each token's character span in the normalised passage that was encoded."""
    offsets = tokenizer(normalize_for_embedding(text), return_offsets_mapping=True, truncation=True, max_length=256)
    return np.array(offsets["offset_mapping"][1:-1])


def _normalised_at(text: str, at: int) -> int:
    """Where character `at` of a passage lands in its normalised text (normalising is local, so
    the normalised prefix, with a marker after it, says it)."""
    return len(normalize_for_embedding(text[:at] + "x")) - 1


def _per_sentence(sims: np.ndarray, spans: np.ndarray | None, text: str, sentences) -> np.ndarray | None:
    """Each sentence's MaxSim over the passage's tokens that start inside it (token spans are in
    the normalised text; sentence bounds are mapped there)."""
    if spans is None or len(spans) != sims.shape[1]:
        return None
    scores = []
    for a, b in sentences:
        lo, hi = _normalised_at(text, a), _normalised_at(text, b)
        inside = (spans[:, 0] >= lo) & (spans[:, 0] < hi) & (spans[:, 1] > spans[:, 0])
        scores.append(sims[:, inside].max(axis=1).mean() if inside.any() else -1.0)
    return np.array(scores)


def _highlight_check(rows: list[dict]) -> None:
    """Highlight of the served top passage: the product's rule against a conditional logit over
    the fused sentence score, the answer type and the sentence's MaxSim."""
    cases = []
    for row in rows:
        passage, maxsim = row["passages"][row["first"]], row["sentence_maxsim"][row["first"]]
        labels = np.array([measure.holds_answer(passage.text[a:b], row["answers"]) for a, b in passage.sentences])
        if maxsim is None or not labels.any() or labels.all():
            continue
        typed = answers.typed_sentences(row["question"], row["kind"], passage.text, passage.sentences).astype(float)
        score = row["sentence_scores"][row["first"]]
        x = np.column_stack([score, typed, maxsim, maxsim - maxsim.max()])
        cases.append({"group": row["group"], "labels": labels, "rule": score + answers.HIGHLIGHT_TYPE_WEIGHT * typed, "x": x})
    _highlight_halves(cases, "with sentence MaxSim")


# adapter --------------------------------------------------------------------------------------


def adapter(searcher: Searcher, questions: list[Question], strength: float) -> None:
    import torch

    index = searcher.index
    passages = torch.tensor(np.asarray(index.vectors_of(None), dtype=np.float32))
    rows_of: dict[str, list[int]] = {}
    for row in range(index.passage_count):
        rows_of.setdefault(index.passage(row).doc_id, []).append(row)
    vectors = searcher.encoder.encode([normalize_for_embedding(q.text) for q in questions], searcher.settings.max_query_chars)
    q_all = torch.tensor(np.asarray(vectors, dtype=np.float32))
    gold = torch.zeros(len(questions), index.passage_count, dtype=torch.bool)
    for n, q in enumerate(questions):
        gold[n, [r for d in q.relevant for r in rows_of[d]]] = True
    groups = torch.tensor([q.group for q in questions])
    torch.manual_seed(0)

    def r1(w: torch.Tensor, which: torch.Tensor) -> float:
        q = torch.nn.functional.normalize(q_all[which] @ w.T, dim=1)
        best = (q @ passages.T).argmax(dim=1)
        return gold[which][torch.arange(len(best)), best].float().mean().item()

    for held_low in (True, False):
        test = (groups < HALF) == held_low
        change = torch.zeros(384, 384, requires_grad=True)
        optimiser = torch.optim.Adam([change], lr=1e-3)
        for _ in range(300):
            q = torch.nn.functional.normalize(q_all[~test] @ (torch.eye(384) + change).T, dim=1)
            logp = ((q @ passages.T) / 0.05).log_softmax(dim=1)
            loss = -torch.logsumexp(logp.masked_fill(~gold[~test], -1e9), dim=1).mean() + strength * (change**2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        w = (torch.eye(384) + change).detach()
        same = torch.eye(384)
        print(f"strength {strength}, held out {'0-11' if held_low else '12-23'}: dense R@1 "
              f"{r1(same, test):.4f} -> {r1(w, test):.4f} (trained on {r1(same, ~test):.4f} -> {r1(w, ~test):.4f})")  # fmt: skip


if __name__ == "__main__":
    main()
