"""The generator's output is a function of its arguments, pinned to the bytes it wrote before
it was made faster: same seed and sizes, same arrays, same files.

The digests below were computed with the generator as it was before vectorising it for
1M users × 100k items. The "chunks" case has more users than one sampling chunk (16,384),
so it pins how the random streams are consumed across chunks; the "sparse" case pins the
activity scaling and the clipping of interaction counts.
"""

import hashlib

import numpy as np
import pyarrow
import pytest

from rlrec.data import memory
from rlrec.data.errors import RlrecError
from rlrec.data.generator import USER_CHUNK, generate
from rlrec.data.store import save_dataset

CASES = {
    "chunks": {"n_users": 20_000, "n_items": 300, "seed": 5},
    "sparse": {"n_users": 700, "n_items": 40, "seed": 9, "activity": 0.3},
}
ARRAY_DIGESTS = {
    "chunks": "e65faa175e1001af2fcba37d23ab8eb815e611a39025915513c9fafbe8ab5ada",
    "sparse": "7c0e7f33944aa19271ea73a78402932b342509cfa09cad1ea7c6c44143fda740",
}
# Parquet bytes also depend on the writer; these were written by pyarrow FILES_PYARROW.
FILES_PYARROW = "26.0.1"
FILE_DIGESTS = {
    "chunks": {
        "interactions.parquet": "08bfebd972f0de73aaa9f3313c6b9ae0104f3ccac010fd4cc1a66d5d73f210a4",
        "item_features.npy": "928a328faabaf6fce5e763cdb81a16c06c4a550455fcdb045335c9d05220b818",
        "item_latent.npy": "fc363b8da81d7d98a3e2fc1ebe94c40970c43f3ec80af2fd668869d2ddf0b441",
        "items.parquet": "21bd3e3f57eebd306c6c7d8905576c0859fcd5e57a82104ddd6adf696a23b530",
        "meta.yaml": "51e3fa827d72bac45601ac4f55d78a3f535076a7ca40596642f4235fef0e93c7",
        "user_features.npy": "914bf5d4a2f9c138aa544f36bcbdceb058914a089da2b3a7110258aa9aa09b86",
        "user_latent.npy": "31b5ea8e95e4300ee0064af4a0fe710920b1566e09fc82584a2db7183d73260c",
        "users.parquet": "5e8e5e09738859f2a69bd4dd58f2a333a2ee08baa07d06f6c9bad3d182d995f6",
    },
    "sparse": {
        "interactions.parquet": "cba37397a7704d324c121944a0a1ff12ec9efbae24bd81635a5872e05f230c4b",
        "item_features.npy": "2f05c55a2eccbdaf23e6440af34da4017a1b7ddd493c73adf0375163abdbf45a",
        "item_latent.npy": "b54cc183628a92c749ea1c42f7b575365ec449015c261f6295bb0c3846db0369",
        "items.parquet": "675bc6f0328c0cf1a91a185d137db5d99d6fca3fd09bcc742b9cfddfe647bbbc",
        "meta.yaml": "33f2b06f72a218af2c7992f84bb570b54e718bcd5a10a0f223a681fb7f9d7a45",
        "user_features.npy": "7b8c105b385120b341a01b3352fcd35d242713e565a194c09992b487265b5ef5",
        "user_latent.npy": "ca68a03eb3933e42368e36d1d660d154edb273f4a74aa3172e397fde7f932894",
        "users.parquet": "5e31caba278773266d200071116ffa9babf1fd6805b00f2df38e348813e235f0",
    },
}


def array_digest(ds) -> str:
    """sha256 over every table column (name, dtype, values) and every matrix of `ds`."""
    digest = hashlib.sha256()
    for frame in (ds.users, ds.items, ds.interactions):
        for name in frame.columns:
            column = frame[name]
            digest.update(f"{name}:{column.dtype}".encode())
            if column.dtype.kind in "biuf":
                digest.update(np.ascontiguousarray(column.to_numpy()).tobytes())
            else:
                digest.update("\0".join(column.astype(str)).encode())
    for matrix in (ds.user_features, ds.item_features, ds.user_latent, ds.item_latent):
        digest.update(np.ascontiguousarray(matrix).tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    return request.param, generate(**CASES[request.param])


def test_chunks_case_spans_more_than_one_sampling_chunk():
    assert CASES["chunks"]["n_users"] > USER_CHUNK


def test_same_seed_gives_the_arrays_it_always_gave(case):
    key, ds = case
    assert array_digest(ds) == ARRAY_DIGESTS[key]


@pytest.mark.skipif(
    pyarrow.__version__ != FILES_PYARROW,
    reason=f"Parquet digests were recorded with pyarrow {FILES_PYARROW}",
)
def test_same_seed_gives_the_files_it_always_gave(case, tmp_path):
    key, ds = case
    folder = save_dataset(ds, tmp_path / "ds")
    written = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.iterdir()}
    assert written == FILE_DIGESTS[key]


def test_two_runs_write_identical_files(tmp_path):
    first = save_dataset(generate(3000, 120, seed=17), tmp_path / "a")
    second = save_dataset(generate(3000, 120, seed=17), tmp_path / "b")
    names = sorted(f.name for f in first.iterdir())
    assert names == sorted(f.name for f in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_memory_estimate_refuses_what_cannot_fit_and_allows_what_can(monkeypatch):
    """With 1 GiB available, 1M users × 100k items (about 1.5 GiB at its peak) is refused
    before anything is drawn, naming n_users; with 4 GiB the estimate lets it through."""
    from rlrec.data import generator

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 2**30)
    with pytest.raises(RlrecError, match=r"n_users.*needs about [\d.]+ GiB .* than the 1.0 GiB"):
        generate(1_000_000, 100_000, 0)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 4 * 2**30)
    generator._check_memory(1_000_000, 100_000, 1.0)  # no error
