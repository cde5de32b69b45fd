"""scratch.files: the cache folder, cached and checked downloads (on file:// URLs), atomic writes, digests.

Oracles: hashlib for checksums, the bytes written by hand, and the kernel (RLIMIT_FSIZE) for a write that fails.
"""

import errno
import hashlib
import os
import re
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest

from scratch import files
from scratch.files import atomic_open, atomic_write, cache_dir, download, file_digest, remove_stale_temps

REAL_URLOPEN = urllib.request.urlopen


@pytest.fixture
def source(tmp_path):
    """A file to download, bigger than one 64 KiB read block, and its md5 (by hashlib)."""
    data = bytes(range(256)) * 1000 + b"the end\n"
    src = tmp_path / "src" / "input.txt"
    src.parent.mkdir()
    src.write_bytes(data)
    return src, hashlib.md5(data).hexdigest()


@pytest.fixture
def urlopen_calls(monkeypatch):
    """Count urlopen calls (they still go through) and record every retry sleep instead of sleeping."""
    calls, sleeps = [], []

    def counting(url, *args, **kwargs):
        calls.append(url)
        return REAL_URLOPEN(url, *args, **kwargs)

    monkeypatch.setattr(files.urllib.request, "urlopen", counting)
    monkeypatch.setattr(files.time, "sleep", sleeps.append)
    return calls, sleeps


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ------------------------------------------------------------------------------------------------ cache_dir
def test_cache_dir_env_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "bfs"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "bfs" and (tmp_path / "bfs").is_dir()
    monkeypatch.delenv("BFS_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "building-from-scratch"
    assert (tmp_path / "xdg" / "building-from-scratch").is_dir()


# ------------------------------------------------------------------------------------------------ download
def test_download_checks_and_caches(tmp_path, source, urlopen_calls):
    src, md5 = source
    calls, _ = urlopen_calls
    dest = tmp_path / "cache" / "sub" / "input.txt"
    assert download(src.as_uri(), dest, md5) == dest
    assert dest.read_bytes() == src.read_bytes() and len(calls) == 1
    # second call: served from the cache; the URL (now a missing file) is not opened
    assert download((tmp_path / "nowhere.txt").as_uri(), dest, md5) == dest
    assert len(calls) == 1
    # without a checksum an existing file is trusted as it is
    assert download((tmp_path / "nowhere.txt").as_uri(), dest) == dest and len(calls) == 1
    assert leftovers(dest.parent) == []


def test_corrupt_cache_is_replaced(tmp_path, source, urlopen_calls):
    src, md5 = source
    calls, _ = urlopen_calls
    dest = tmp_path / "input.txt"
    dest.write_bytes(b"garbage from an older, interrupted run")
    download(src.as_uri(), dest, md5)
    assert len(calls) == 1
    assert hashlib.md5(dest.read_bytes()).hexdigest() == md5 and dest.read_bytes() == src.read_bytes()


def test_md5_mismatch_raises_and_leaves_nothing(tmp_path, source):
    src, md5 = source
    folder = tmp_path / "dl"
    with pytest.raises(ValueError, match=f"expected {'0' * 32}"):
        download(src.as_uri(), folder / "input.txt", "0" * 32)
    assert not (folder / "input.txt").exists()
    assert list(folder.iterdir()) == []  # no temp file either


def test_md5_mismatch_keeps_the_old_file(tmp_path, source):
    src, _ = source
    dest = tmp_path / "input.txt"
    dest.write_bytes(b"old")
    with pytest.raises(ValueError, match="md5"):
        download(src.as_uri(), dest, "0" * 32)
    assert dest.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_unresolvable_host_fails_at_once(tmp_path, monkeypatch):
    calls, sleeps = [], []

    def no_dns(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(files.urllib.request, "urlopen", no_dns)
    monkeypatch.setattr(files.time, "sleep", sleeps.append)
    with pytest.raises(ConnectionError, match="offline.*local file"):
        download("https://example.invalid/x.txt", tmp_path / "x.txt", retries=5)
    assert len(calls) == 1 and sleeps == []  # no retry, no waiting
    assert list(tmp_path.iterdir()) == []


def test_transient_error_is_retried(tmp_path, source, monkeypatch):
    src, md5 = source
    calls, sleeps = [], []

    def flaky(url, *args, **kwargs):
        calls.append(url)
        if len(calls) <= 2:
            raise urllib.error.URLError(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"))
        return REAL_URLOPEN(url, *args, **kwargs)

    monkeypatch.setattr(files.urllib.request, "urlopen", flaky)
    monkeypatch.setattr(files.time, "sleep", sleeps.append)
    dest = download(src.as_uri(), tmp_path / "input.txt", md5, retries=2, backoff=0.5)
    assert dest.read_bytes() == src.read_bytes()
    assert len(calls) == 3 and sleeps == [0.5, 1.0]  # backoff, then twice the backoff
    assert leftovers(tmp_path) == []


def test_retries_exhausted_is_a_connection_error(tmp_path, monkeypatch):
    calls, sleeps = [], []

    def timing_out(url, *args, **kwargs):
        calls.append(url)
        raise TimeoutError("timed out")

    monkeypatch.setattr(files.urllib.request, "urlopen", timing_out)
    monkeypatch.setattr(files.time, "sleep", sleeps.append)
    with pytest.raises(ConnectionError, match="timed out"):
        download("https://example.org/x.txt", tmp_path / "x.txt", retries=2, backoff=1.0)
    assert len(calls) == 3 and sleeps == [1.0, 2.0]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------ atomic writes
def test_atomic_write_bytes_and_text(tmp_path):
    assert atomic_write(tmp_path / "a" / "b.bin", b"\x00\xff") == tmp_path / "a" / "b.bin"
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x00\xff"
    atomic_write(tmp_path / "t.txt", "héllo\n")
    assert (tmp_path / "t.txt").read_bytes() == "héllo\n".encode()
    atomic_write(tmp_path / "t.txt", "über", encoding="latin-1")
    assert (tmp_path / "t.txt").read_bytes() == "über".encode("latin-1")
    with atomic_open(tmp_path / "m.txt", "w", encoding="utf-8") as f:
        f.write("text mode ✓")
    assert (tmp_path / "m.txt").read_text(encoding="utf-8") == "text mode ✓"
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "a") == []


@pytest.mark.parametrize("mode", ["r", "rb", "a", "ab", "r+"])
def test_atomic_open_refuses_non_write_modes(tmp_path, mode):
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(tmp_path / "x", mode):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_exception_mid_write_keeps_the_old_file(tmp_path, error):
    path = tmp_path / "ckpt.bin"
    path.write_bytes(b"old contents\n" * 100)
    before = path.read_bytes()
    with pytest.raises(error):
        with atomic_open(path) as f:
            f.write(b"new" * 10_000)
            f.flush()
            raise error("crash half-way")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.bin"]  # the temp file is gone


def test_exception_before_first_write_creates_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "new.bin"):
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_write_failing_half_way_on_a_full_disk_keeps_the_old_file(tmp_path):
    """A real failed write: RLIMIT_FSIZE makes the kernel refuse bytes past 64 KiB (EFBIG) in a child process."""
    pytest.importorskip("resource")
    path = tmp_path / "data.bin"
    path.write_bytes(b"previous version\n")
    child = textwrap.dedent(f"""
        import errno, resource, signal, sys
        from scratch.files import atomic_write
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG as an OSError instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        try:
            atomic_write({str(path)!r}, b"x" * 1_000_000)
        except OSError as e:
            sys.exit(3 if e.errno == errno.EFBIG else 4)
        sys.exit(0)
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert path.read_bytes() == b"previous version\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


# ------------------------------------------------------------------------------------------------ digests
@pytest.mark.parametrize("algorithm", ["md5", "sha256", "sha1"])
@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (3 << 20) + 17])
def test_file_digest_equals_hashlib(tmp_path, algorithm, size):
    data = (bytes(range(251)) * (size // 251 + 1))[:size]  # 251: a prime, so blocks never repeat in phase
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert file_digest(path, algorithm) == hashlib.new(algorithm, data).hexdigest()
    if algorithm == "md5":
        assert file_digest(str(path)) == hashlib.md5(data).hexdigest()  # md5 is the default; str paths work


def test_permissions_are_those_of_a_plain_write(tmp_path):
    """A new file gets 0666 less the umask (as open() gives it, not mkstemp's 0600); a replaced file keeps its mode."""
    umask = os.umask(0o022)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
        new = atomic_write(tmp_path / "new.txt", "x")
        assert new.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o644
        os.chmod(new, 0o640)
        atomic_write(new, "y")
        assert new.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


def test_remove_stale_temps_removes_only_atomic_open_leftovers(tmp_path):
    stale = tmp_path / ".ckpt_000100.pt.x1y2z3.tmp"
    stale.write_bytes(b"half")
    keep = [tmp_path / "ckpt_000100.pt", tmp_path / ".hidden", tmp_path / "notes.tmp"]
    for p in keep:
        p.write_bytes(b"mine")
    assert remove_stale_temps(tmp_path) == [stale]
    assert not stale.exists() and all(p.read_bytes() == b"mine" for p in keep)


def test_remove_stale_temps_only_for_the_named_targets(tmp_path):
    ours = tmp_path / ".manifest.json.ab12_c.tmp"
    theirs = tmp_path / ".notes.txt.zz9.tmp"
    for p in (ours, theirs):
        p.write_bytes(b"half")
    assert remove_stale_temps(tmp_path, re.compile(r"manifest\.json|train_\d+\.bin")) == [ours]
    assert theirs.exists()
