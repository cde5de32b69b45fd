"""Files: our .model round-trips, minbpe files load, and exports load in tiktoken and HF tokenizers with our ids."""

import ast
from pathlib import Path

import pytest

import bpe
from bpe import Tokenizer
from bpe.formats import export_hf, export_tiktoken, load_model, onig_pattern
from testutil import corpus_file, require_tiktoken_cache

EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def trained():
    text = corpus_file("multilingual.txt", any_text=True).read_text(encoding="utf-8")[:300_000]
    return Tokenizer.train(text, vocab_size=800, pattern="gpt4", special_tokens=[EOT])


@pytest.fixture(scope="module")
def sample_text():
    return corpus_file("multilingual.txt", any_text=True).read_text(encoding="utf-8")[300_000:500_000]


def test_model_round_trip(trained, tmp_path, sample_text):
    path = trained.save(tmp_path / "tok")
    assert path.name == "tok.model" and (tmp_path / "tok.vocab").is_file()
    loaded = Tokenizer.load(path)
    assert loaded.merges == trained.merges and loaded.special_tokens == trained.special_tokens
    assert loaded.pattern == trained.pattern
    assert loaded.encode(sample_text, allowed_special="all") == trained.encode(sample_text, allowed_special="all")
    assert not list(tmp_path.glob(".*tmp")), "temp files must not be left behind"


def test_tiktoken_derived_tokenizer_round_trips_through_ranks(tmp_path):
    require_tiktoken_cache()
    tok = Tokenizer.from_tiktoken("gpt2")
    loaded = Tokenizer.load(tok.save(tmp_path / "gpt2"))
    assert loaded.mergeable_ranks == tok.mergeable_ranks and loaded.special_tokens == tok.special_tokens
    assert loaded.encode_ordinary("Hello, world!") == [15496, 11, 995, 0]


def test_loads_minbpe_and_simple_bpe_files(tmp_path, trained, sample_text):
    for version in ("minbpe v1", "simple-bpe v1"):
        lines = [version, trained.pattern, "1", f"{EOT} {trained.special_tokens[EOT]}"]
        lines += [f"{a} {b}" for a, b in trained.merges]
        path = tmp_path / "old.model"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        old = Tokenizer.load(path)
        assert old.encode_ordinary(sample_text) == trained.encode_ordinary(sample_text)


def test_tiktoken_export_gives_our_ids(trained, tmp_path, sample_text):
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    path = export_tiktoken(tmp_path / "tok.tiktoken", trained.mergeable_ranks)
    enc = tiktoken.Encoding(
        "ours",
        pat_str=trained.pattern,
        mergeable_ranks=load_tiktoken_bpe(str(path)),
        special_tokens=trained.special_tokens,
    )
    assert enc.encode(sample_text, allowed_special="all") == trained.encode(sample_text, allowed_special="all")


def test_hf_export_gives_our_ids(trained, tmp_path, sample_text):
    from tokenizers import Tokenizer as HFTokenizer

    path = export_hf(
        tmp_path / "tokenizer.json", trained.mergeable_ranks, trained.special_tokens, trained.pattern, trained.merges
    )
    hf = HFTokenizer.from_file(str(path))
    assert hf.encode(sample_text).ids == trained.encode(sample_text, allowed_special="all")
    assert hf.decode(trained.encode_ordinary("héllo wörld")) == "héllo wörld"


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base"])
def test_hf_export_of_tiktoken_ranks_gives_tiktokens_ids(name, tmp_path):
    require_tiktoken_cache(name)
    import tiktoken
    from tokenizers import Tokenizer as HFTokenizer

    tok = Tokenizer.from_tiktoken(name)
    assert tok.merges is None  # ranks only: export_hf recovers the merges
    hf = HFTokenizer.from_file(
        str(export_hf(tmp_path / "tokenizer.json", tok.mergeable_ranks, tok.special_tokens, tok.pattern))
    )
    # Shakespeare for the merges; long digit runs for cl100k's possessive \p{N}{1,3}+ (Oniguruma reads it otherwise)
    text = corpus_file("tinyshakespeare.txt").read_text()[:50_000] + " 1745, #1234567 and 64-6221541.\n"
    text += corpus_file("multilingual.txt", any_text=True).read_text()[:50_000]
    # HF always splits out added tokens, as tiktoken does when every special is allowed
    assert hf.encode(text).ids == tiktoken.get_encoding(name).encode(text, allowed_special="all")


def test_onig_pattern_makes_possessive_intervals_atomic():
    assert onig_pattern(r"\p{N}{1,3}+|[a-z]{2}+|x{1,}+") == r"(?>\p{N}{1,3})|(?>[a-z]{2})|(?>x{1,})"
    assert onig_pattern(r"\p{L}++|\p{N}{1,3}") == r"\p{L}++|\p{N}{1,3}"  # nothing else is touched


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "first line"),
        ("hello\n", "first line"),
        ('bpe v1\n{"name": "x", "pattern": "a", "special_tokens": {}}\nmerges 3\n97 97\n', "promises 3"),
        ('bpe v1\n{"name": "x"\n', "malformed"),
        (
            'bpe v1\n{"name": "x", "pattern": "a", "special_tokens": {}}\nmerges 1\n97 999\n',
            r"line 4: merge \(97, 999\) uses an id not made yet",
        ),
        ("minbpe v1\npattern\n2\n<|a|> 256\n", "special tokens"),
    ],
)
def test_malformed_model_files_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.model"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_load_model_returns_the_tokenizers_constructor_arguments(trained, tmp_path):
    spec = load_model(trained.save(tmp_path / "tok"))
    assert spec == {
        "mergeable_ranks": trained.mergeable_ranks,
        "special_tokens": trained.special_tokens,
        "pattern": trained.pattern,
        "name": trained.name,
        "merges": trained.merges,
    }


def test_a_parsed_file_that_is_no_tokenizer_names_the_file(tmp_path):
    path = tmp_path / "nobytes.model"
    path.write_text('bpe v1\n{"name": "x", "pattern": "a", "special_tokens": {}}\nranks 1\nYQ== 0\n', encoding="utf-8")
    assert load_model(path)["mergeable_ranks"] == {b"a": 0}  # plain data: formats does not judge it
    with pytest.raises(ValueError, match="nobytes.model is malformed.*256 single bytes"):
        Tokenizer.load(path)


def test_package_imports_form_no_cycle_and_formats_knows_no_tokenizer():
    """Every import between bpe's modules, at module level or inside a function, points one way."""
    package = Path(bpe.__file__).parent
    graph = {}
    for path in package.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bpe."):
                deps.add(node.module.split(".")[1])
        graph[path.stem] = deps - {"__init__"}
    assert "tokenizer" not in graph["formats"]

    def visit(module, stack):
        assert module not in stack, f"import cycle: {' -> '.join([*stack, module])}"
        for dep in graph.get(module, ()):
            visit(dep, [*stack, module])

    for module in graph:
        if module != "__init__":
            visit(module, [])


def test_missing_and_binary_model_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one"):
        Tokenizer.load(tmp_path / "nope.model")
    path = tmp_path / "binary.model"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="binary.model is not a tokenizer .model file"):
        Tokenizer.load(path)


def test_failed_save_leaves_old_files_intact(trained, tmp_path, monkeypatch):
    path = trained.save(tmp_path / "tok")
    before = path.read_bytes()
    other = Tokenizer.train("a different corpus " * 20, vocab_size=270)
    import bpe.formats as formats

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(formats.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        other.save(tmp_path / "tok")
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*tmp")), "the temp file must be cleaned up"
