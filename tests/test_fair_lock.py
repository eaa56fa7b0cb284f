"""The model's lock goes first come, first served, and a batch is encoded in chunks, so that a
question asked during a batch waits for one chunk, not for the whole batch (issue 15)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from qa.encode.embedder import Progress
from qa.index.build import build_index
from qa.retrieve.fair_lock import FairLock
from qa.retrieve.searcher import Searcher

from .conftest import FakeEmbedder, fake_settings
from .test_cost import LONG, in_thread, wait_until


def queued(lock: FairLock) -> int:
    return lock.waiting()


def test_the_lock_goes_to_the_longest_waiter_not_back_to_the_releaser():
    lock, order = FairLock(), []
    lock.acquire()

    def take(name: str) -> None:
        with lock:
            order.append(name)

    first, _ = in_thread(lambda: take("first"))
    wait_until(lambda: queued(lock) == 1)
    second, _ = in_thread(lambda: take("second"))
    wait_until(lambda: queued(lock) == 2)
    lock.release()
    again, _ = in_thread(lambda: take("releaser again"))  # asks after both: goes after both
    for thread in (first, second, again):
        thread.join(10)
    assert order == ["first", "second", "releaser again"]
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


class RecordingEmbedder(FakeEmbedder):
    """Records what each encode call was given; the first call of a batch waits for a gate."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.encoded: list[list[str]] = []
        self.gate, self.waiting = threading.Event(), threading.Event()

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        if self.armed:
            self.encoded.append(list(texts))
            if len(self.encoded) == 1:
                self.waiting.set()
                assert self.gate.wait(10)
        return super().encode(texts, batch_size, progress)


def test_a_question_asked_during_a_batch_waits_for_one_chunk_not_the_batch(tmp_path):
    embedder = RecordingEmbedder()
    settings = fake_settings(tmp_path)
    build_index(settings, embedder)
    searcher = Searcher.open(settings, embedder)
    embedder.armed = True
    try:
        batch, batch_out = in_thread(lambda: searcher.search_many([LONG] * 3, 2))
        assert embedder.waiting.wait(10)  # the batch's first chunk holds the lock
        single, single_out = in_thread(lambda: searcher.search("When did the war start?", 2))
        wait_until(lambda: queued(searcher.encoder.lock) == 1)
    finally:
        embedder.gate.set()
    batch.join(10)
    single.join(10)
    assert [len(texts) for texts in embedder.encoded] == [1, 1, 1, 1]  # one question of 1,000 characters a chunk
    assert embedder.encoded[1] == ["When did the war start?"]  # right after the first chunk
    assert len(batch_out["r"]) == 3 and single_out["r"].hits
    assert [r.to_dict()["results"] for r in batch_out["r"]] == [searcher.search(LONG, 2).to_dict()["results"]] * 3
