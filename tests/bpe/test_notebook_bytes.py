"""bpe-dev.ipynb sections 8-10 (code points vs bytes, GPT-2's byte-to-unicode files, SentencePiece), checked from
outside: the setup cell and the cells tagged `bytes` run in a kernel, then a probe cell hands back what they built,
and each test holds it against an oracle of its own (tiktoken, HF tokenizers' alphabet, the corpus file itself)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat
import pytest
import sentencepiece as spm
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from tokenizers.pre_tokenizers import ByteLevel

from testutil import DATA, EOT, ROOT, require_tiktoken_cache, tiktoken_encoding

NOTEBOOK = ROOT / "bpe" / "notebooks" / "bpe-dev.ipynb"
GPT2_TEXT = "Über 9000 naïve 日本語 users 👩\u200d👩\u200d👧 wrote:\n\n\tdef f(x):  return x  " + EOT
PROBE = f"""
import base64, json
from tiktoken.load import data_gym_to_mergeable_bpe_ranks

files_read = bool(gpt2_files)
print("PROBE" + json.dumps({{
    "b2u": {{str(b): c for b, c in b2u.items()}},
    "code_point_path": str(code_point_path.resolve()),
    "train_path": str(train_path.resolve()),
    "distinct": len(char_counts),
    "gpt2_files_read": files_read,
    "ranks_match_tiktoken_loader": files_read and openai_ranks == data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=GPT2_FILES["vocab.bpe"][0], encoder_json_file=GPT2_FILES["encoder.json"][0]
    ),
    "gpt2_ids": ours_gpt2.encode({GPT2_TEXT!r}, allowed_special="all") if files_read else None,
    "sp_vocab": SP_VOCAB,
    "ours_vocab": ours_1k.n_vocab,
    "sp_model": base64.b64encode(sp.serialized_model_proto()).decode(),
}}))
"""


def section_cells() -> list:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return [c for c in nb.cells if {"setup", "bytes"} & set(c.metadata.get("tags", []))]


@pytest.fixture(scope="module")
def probe() -> dict:
    """Run the setup cell + sections 8-10 as the suite runs notebooks (NOTEBOOK_SMOKE=1, one thread)."""
    nb = new_notebook(cells=[*section_cells(), new_code_cell(PROBE)])
    nb.metadata = nbformat.read(NOTEBOOK, as_version=4).metadata
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOTEBOOK_SMOKE", "1")
        mp.setenv("OMP_NUM_THREADS", "1")
        client = NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        )
        client.execute()
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return json.loads(out.split("PROBE", 1)[1])


def test_the_tagged_cells_are_sections_8_to_10():
    headings = [
        c.source.splitlines()[0] for c in section_cells() if c.cell_type == "markdown" and c.source.startswith("## ")
    ]
    assert [h.split()[1] for h in headings] == ["8.", "9.", "10."]


def test_bytes_to_unicode_is_gpt2s_table(probe):
    """Oracles: tiktoken's rule (printable Latin-1 but not space stays, the rest shift to 256+ in order) and the
    256-character alphabet of HF tokenizers' ByteLevel pre-tokenizer."""
    b2u = {int(b): c for b, c in probe["b2u"].items()}
    kept = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    shifted = [b for b in range(256) if b not in kept]
    expected = {b: chr(b) for b in kept} | {b: chr(256 + n) for n, b in enumerate(shifted)}
    assert b2u == expected
    assert (len(kept), len(shifted)) == (188, 68)
    assert set(b2u.values()) == set(ByteLevel.alphabet())


def test_distinct_code_points_are_counted_on_the_right_file(probe):
    multilingual = DATA / "multilingual.txt"
    expected = multilingual if multilingual.is_file() else Path(probe["train_path"])
    assert Path(probe["code_point_path"]) == expected.resolve()
    assert probe["distinct"] == len(set(expected.read_text(encoding="utf-8")))


def test_openai_files_round_trip_to_tiktoken(probe):
    """The round-trip cell ran (tiktoken's cache has gpt2's files) and its ranks give tiktoken's ids here too."""
    require_tiktoken_cache("gpt2")
    assert probe["gpt2_files_read"]
    assert probe["ranks_match_tiktoken_loader"]
    assert probe["gpt2_ids"] == tiktoken_encoding("gpt2").encode(GPT2_TEXT, allowed_special="all")


def test_sentencepiece_model_has_our_size_and_llama2_behaviour(probe):
    sp = spm.SentencePieceProcessor(model_proto=base64.b64decode(probe["sp_model"]))
    assert sp.get_piece_size() == probe["sp_vocab"] == probe["ours_vocab"]
    assert [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_byte(i)] == [
        f"<0x{b:02X}>" for b in range(256)
    ]
    emoji = "👩"  # not in Shakespeare: byte fallback spells its UTF-8 bytes
    assert [p for p in sp.encode(emoji, out_type=str) if p.startswith("<0x")] == [
        f"<0x{b:02X}>" for b in emoji.encode()
    ]
    tricky = "  ﬁne   ｗｉｄｅ\tcafé"  # identity normalization, spaces kept: exact
    assert sp.decode(sp.encode(tricky)) == tricky
