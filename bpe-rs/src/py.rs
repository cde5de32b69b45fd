//! Python bindings only: argument conversion, GIL release, numpy output, and the one mapping of the crate's `Error`
//! to Python exceptions (`From<Error> for PyErr` below). The algorithms live in the other modules, which know no pyo3.
//! Python's `bpe` package owns the public API and the special-token policy (bpe/bpe/tokenizer.py).

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::ffi;
use pyo3::types::{PyBytes, PyList, PyString};
use rayon::{ThreadPool, ThreadPoolBuilder};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use crate::chunk;
use crate::encode::{CoreBpe, Rank};
use crate::error::Error;
use crate::pretok::{self, Splitter};
use crate::train;

/// Every error the core can return, as the Python exception `bpe` documents: I/O problems are OSError (pyo3 picks
/// the subclass from the io::ErrorKind: FileNotFoundError, PermissionError, ...), everything else ValueError.
impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        let message = e.to_string();
        match e {
            Error::Io { source, .. } => std::io::Error::new(source.kind(), message).into(),
            Error::NotUtf8 { .. }
            | Error::Pattern { .. }
            | Error::Vocab(_)
            | Error::UnknownSpecial(_)
            | Error::UnknownToken { .. }
            | Error::Invalid(_) => PyValueError::new_err(message),
            Error::Internal(_) => PyRuntimeError::new_err(message),
        }
    }
}

/// Run core work, turning a panic (a bug) into `Error::Internal`, so Python gets a RuntimeError that `except
/// Exception` catches, not pyo3's PanicException (a BaseException). Allocations are bounded by validated inputs
/// (encode.rs MAX_ID_GAP), so an impossible allocation, which no catch can survive, does not happen either.
fn guard<T>(work: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        Err(Error::Internal(message))
    })
}

/// A batch's texts as `&str`s borrowed from the Python objects (their UTF-8 form, which CPython keeps on the str),
/// not copied into `String`s on the one thread that holds the GIL: the list keeps them alive while the work runs.
fn borrow<'a>(texts: &'a [Bound<'_, PyString>]) -> PyResult<Vec<&'a str>> {
    texts.iter().map(|t| t.to_str()).collect()
}

/// More threads than this is a mistake (each is an OS thread), not a request to honour.
const MAX_THREADS: usize = 4096;

/// Rayon pools by thread count (0 = all cores), built once: building a pool per call would cost more than the work.
fn pool(threads: usize) -> Result<Arc<ThreadPool>, Error> {
    if threads > MAX_THREADS {
        return Err(Error::Invalid(format!("{threads} threads is too many (at most {MAX_THREADS}; 0 = all cores)")));
    }
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS.get_or_init(Default::default).lock().unwrap();
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::Invalid(e.to_string()))?,
    );
    pools.insert(threads, p.clone());
    Ok(p)
}

/// Token ids as a numpy array: uint16 when the vocabulary fits, else uint32 (the vector itself, given back the room
/// for one id per byte that the encoder reserved: the array keeps its allocation).
fn to_numpy(py: Python<'_>, mut ids: Vec<Rank>, n_vocab: usize) -> Bound<'_, PyAny> {
    if n_vocab <= 1 << 16 {
        let mut small: Vec<u16> = crate::encode::buffer(ids.len());
        small.extend(ids.iter().map(|&i| i as u16));
        small.into_pyarray(py).into_any()
    } else {
        ids.shrink_to_fit();
        PyArray1::from_vec(py, ids).into_any()
    }
}

/// A Python int for an id.
fn int(py: Python<'_>, id: Rank) -> Py<PyAny> {
    let Ok(int) = id.into_pyobject(py);
    int.into_any().unbind()
}

/// A batch's ids in the narrowest type that holds the vocabulary (to_numpy's rule), built without the GIL.
enum FlatIds {
    Small(Vec<u16>),
    Wide(Vec<Rank>),
}

#[pyclass(frozen, module = "bpe_rs")]
struct Encoder {
    core: CoreBpe,
    /// One Python int per id, made once: a list of ids then costs a reference per id, not an int object per id
    /// (making the ints was most of the time of encoding a short text). Each is made the first time a list holds its
    /// id, so the ints a text uses sit together in memory in the order it first used them, not spread over all ids
    /// (o200k_base's 200K ints take 6.4 MB): filling lists, freeing them and Python's cycle collector walking them
    /// all touch each int.
    ints: Vec<OnceLock<Py<PyAny>>>,
}

impl Encoder {
    /// The ids as a Python list of the encoder's own ints.
    fn list<'py>(&self, py: Python<'py>, ids: &[Rank]) -> PyResult<Bound<'py, PyList>> {
        // SAFETY: a new list of len(ids) slots, each set once to an owned reference (the setter steals it);
        // every id < n_vocab == ints.len(), since ids come from the encoder.
        unsafe {
            let list = ffi::PyList_New(ids.len() as ffi::Py_ssize_t);
            if list.is_null() {
                return Err(PyErr::fetch(py));
            }
            #[cfg(not(feature = "abi3"))]
            crate::encode::huge_pages(
                (*(list as *mut ffi::PyListObject)).ob_item as *mut u8,
                ids.len() * std::mem::size_of::<*mut ffi::PyObject>(),
            );
            for (i, &r) in ids.iter().enumerate() {
                let int = self.ints[r as usize].get_or_init(|| int(py, r)).as_ptr();
                ffi::Py_INCREF(int);
                // the macro writes the slot inline (half the time of a list, measured); the stable ABI lacks it
                #[cfg(not(feature = "abi3"))]
                ffi::PyList_SET_ITEM(list, i as ffi::Py_ssize_t, int);
                #[cfg(feature = "abi3")]
                ffi::PyList_SetItem(list, i as ffi::Py_ssize_t, int);
            }
            Ok(Bound::from_owned_ptr(py, list).cast_into_unchecked())
        }
    }

    fn lists<'py>(&self, py: Python<'py>, batch: &[Vec<Rank>]) -> PyResult<Bound<'py, PyList>> {
        let lists = batch.iter().map(|ids| self.list(py, ids)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, lists)
    }
}

#[pymethods]
impl Encoder {
    #[new]
    fn new(
        ranks: Vec<(Bound<'_, PyBytes>, Rank)>, specials: HashMap<String, Rank>, pattern: &str,
    ) -> PyResult<Self> {
        let ranks = ranks.into_iter().map(|(b, r)| (b.as_bytes().to_vec(), r)).collect();
        let specials: FxHashMap<String, Rank> = specials.into_iter().collect();
        let core = guard(|| CoreBpe::new(ranks, specials, pattern))?;
        let ints = (0..core.n_vocab()).map(|_| OnceLock::new()).collect();
        Ok(Encoder { core, ints })
    }

    /// Which splitter pre-tokenizes: "gpt2", "cl100k" or "o200k" when the pattern is one of the crate's constants
    /// (the fast path), else "fancy-regex".
    #[getter]
    fn splitter(&self) -> &'static str {
        self.core.splitter_name()
    }

    /// Forget the merges remembered across calls (memory, or timing a first pass over new text).
    fn clear_cache(&self) {
        self.core.caches().clear();
    }

    /// How many pieces' merges are remembered across calls.
    #[getter]
    fn cached_pieces(&self) -> usize {
        self.core.caches().pieces()
    }

    /// How non-ASCII and long pieces that are no token are merged: "backtracking" (backtrack.rs) or "rank by rank"
    /// (short ASCII pieces always merge rank by rank).
    #[getter]
    fn merge_algorithm(&self) -> &'static str {
        if self.core.backtracks() { "backtracking" } else { "rank by rank" }
    }

    #[getter]
    fn n_vocab(&self) -> usize {
        self.core.n_vocab()
    }

    fn encode_ordinary<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyList>> {
        let ids = py.detach(|| guard(|| Ok(self.core.encode_ordinary(text))))?;
        self.list(py, &ids)
    }

    fn encode<'py>(&self, py: Python<'py>, text: &str, allowed: Vec<String>) -> PyResult<Bound<'py, PyList>> {
        let m = self.core.special_matcher(&allowed)?;
        let ids = py.detach(|| guard(|| Ok(self.core.encode(text, m.as_ref()))))?;
        self.list(py, &ids)
    }

    #[pyo3(signature = (texts, num_threads=0))]
    fn encode_ordinary_batch<'py>(
        &self, py: Python<'py>, texts: Vec<Bound<'py, PyString>>, num_threads: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let texts = borrow(&texts)?;
        let pool = pool(num_threads)?;
        let batch = py.detach(|| guard(|| Ok(pool.install(|| self.core.encode_batch(&texts, None)))))?;
        self.lists(py, &batch)
    }

    #[pyo3(signature = (texts, allowed, num_threads=0))]
    fn encode_batch<'py>(
        &self, py: Python<'py>, texts: Vec<Bound<'py, PyString>>, allowed: Vec<String>, num_threads: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let texts = borrow(&texts)?;
        let m = self.core.special_matcher(&allowed)?;
        let pool = pool(num_threads)?;
        let batch = py.detach(|| guard(|| Ok(pool.install(|| self.core.encode_batch(&texts, m.as_ref())))))?;
        self.lists(py, &batch)
    }

    /// Encode many texts in parallel into one numpy array of ids (uint16 when the vocabulary fits, else uint32, as
    /// `to_numpy`) and int64 offsets, len(texts) + 1 of them: text i's ids are ids[offsets[i]:offsets[i + 1]].
    /// No Python int or list per id or text; the ids are copied once, and the buffer becomes the array uncopied.
    #[pyo3(signature = (texts, num_threads=0))]
    fn encode_ordinary_batch_to_numpy<'py>(
        &self, py: Python<'py>, texts: Vec<Bound<'py, PyString>>, num_threads: usize,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<i64>>)> {
        let texts = borrow(&texts)?;
        let pool = pool(num_threads)?;
        let small = self.core.n_vocab() <= 1 << 16;
        let (ids, offsets) = py.detach(|| {
            guard(|| {
                Ok(pool.install(|| {
                    if small {
                        let (ids, offsets) = self.core.encode_batch_flat(&texts, None, |r| r as u16);
                        (FlatIds::Small(ids), offsets)
                    } else {
                        let (ids, offsets) = self.core.encode_batch_flat(&texts, None, |r| r);
                        (FlatIds::Wide(ids), offsets)
                    }
                }))
            })
        })?;
        let ids = match ids {
            FlatIds::Small(v) => PyArray1::from_vec(py, v).into_any(),
            FlatIds::Wide(v) => PyArray1::from_vec(py, v).into_any(),
        };
        Ok((ids, PyArray1::from_vec(py, offsets)))
    }

    /// Encode one text into a numpy array; `num_threads` != 1 (0 = all cores) cuts it at safe points (chunk.rs)
    /// and encodes the chunks in parallel: the same ids.
    #[pyo3(signature = (text, allowed, num_threads=1))]
    fn encode_to_numpy<'py>(
        &self, py: Python<'py>, text: &str, allowed: Vec<String>, num_threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = self.core.special_matcher(&allowed)?;
        let ids = if num_threads == 1 {
            py.detach(|| guard(|| Ok(self.core.encode(text, m.as_ref()))))?
        } else {
            let pool = pool(num_threads)?;
            let chunks = pool.current_num_threads() * 4;
            py.detach(|| guard(|| Ok(pool.install(|| self.core.encode_parallel(text, m.as_ref(), chunks)))))?
        };
        Ok(to_numpy(py, ids, self.core.n_vocab()))
    }

    fn decode_bytes<'py>(&self, py: Python<'py>, ids: Vec<Rank>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| guard(|| self.core.decode_bytes(&ids)))?;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// Split text with a pattern exactly as Python's `regex.findall` would (for tests and teaching).
#[pyfunction]
fn pretokenize(py: Python<'_>, text: &str, pattern: &str) -> PyResult<Vec<String>> {
    let s = Splitter::new(pattern)?;
    Ok(py.detach(|| guard(|| Ok(s.split(text).into_iter().map(str::to_owned).collect())))?)
}

/// Train merges from a text or a file; returns (merges, number of unique pre-tokens).
/// `progress(phase, done, total)` is called now and then, with the GIL. A file is read `block_bytes` at a time.
#[pyfunction(name = "train")]
#[pyo3(signature = (text, path, num_merges, pattern, specials, workers=0, progress=None, block_bytes=chunk::BLOCK))]
#[allow(clippy::too_many_arguments)]
fn train_merges(
    py: Python<'_>, text: Option<String>, path: Option<String>, num_merges: usize, pattern: &str,
    specials: Vec<String>, workers: usize, progress: Option<Py<PyAny>>, block_bytes: usize,
) -> PyResult<(Vec<(u32, u32)>, usize)> {
    let splitter = Splitter::new(pattern)?;
    let pool = pool(workers)?;
    let mut report = |phase: &str, done: usize, total: usize| {
        if let Some(cb) = &progress {
            Python::attach(|py| {
                let _ = cb.call1(py, (phase, done, total)); // progress is best effort
            });
        }
    };
    py.detach(|| {
        guard(|| {
            pool.install(|| {
                let counts = match (&text, &path) {
                    (Some(t), _) => {
                        let mut c = train::WordCounts::default();
                        train::count_text(t, &splitter, &specials, &mut c);
                        c
                    }
                    (None, Some(p)) => train::count_file(p, &splitter, &specials, block_bytes, &mut report)?,
                    (None, None) => return Err(Error::Invalid("pass a text or a path to train on".to_string())),
                };
                let unique = counts.len();
                Ok((train::train_counts(counts, num_merges, &mut report), unique))
            })
        })
    })
    .map_err(PyErr::from)
}

#[pymodule]
fn bpe_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Encoder>()?;
    m.add("GPT2_PATTERN", pretok::GPT2_PATTERN)?;
    m.add("CL100K_PATTERN", pretok::CL100K_PATTERN)?;
    m.add("O200K_PATTERN", pretok::O200K_PATTERN)?;
    m.add("MAX_CACHED_PIECES", crate::cache::MAX_PIECES)?;
    m.add("RANK_LIMIT", crate::pairs::RANK_LIMIT)?;
    m.add_function(wrap_pyfunction!(pretokenize, m)?)?;
    m.add_function(wrap_pyfunction!(train_merges, m)?)?;
    Ok(())
}
