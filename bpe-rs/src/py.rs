//! Python bindings only: argument conversion, GIL release, errors. The algorithms live in the other modules.
//! Python's `bpe` package owns the public API and the special-token policy (bpe/bpe/tokenizer.py).

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::{ThreadPool, ThreadPoolBuilder};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::encode::{CoreBpe, Rank};
use crate::pretok::Splitter;
use crate::train;

/// Rayon pools by thread count (0 = all cores), built once: building a pool per call would cost more than the work.
fn pool(threads: usize) -> PyResult<Arc<ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS.get_or_init(Default::default).lock().unwrap();
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| PyValueError::new_err(e.to_string()))?,
    );
    pools.insert(threads, p.clone());
    Ok(p)
}

fn value_err(e: String) -> PyErr {
    PyValueError::new_err(e)
}

/// Token ids as a numpy array: uint16 when the vocabulary fits, else uint32.
fn to_numpy(py: Python<'_>, ids: Vec<Rank>, n_vocab: usize) -> Bound<'_, PyAny> {
    if n_vocab <= 1 << 16 {
        let small: Vec<u16> = ids.into_iter().map(|i| i as u16).collect();
        small.into_pyarray(py).into_any()
    } else {
        PyArray1::from_vec(py, ids).into_any()
    }
}

#[pyclass(frozen, module = "bpe_rs")]
struct Encoder {
    core: CoreBpe,
}

#[pymethods]
impl Encoder {
    #[new]
    fn new(ranks: Vec<(Bound<'_, PyBytes>, Rank)>, specials: HashMap<String, Rank>, pattern: &str) -> PyResult<Self> {
        let ranks = ranks.into_iter().map(|(b, r)| (b.as_bytes().to_vec(), r)).collect();
        let specials: FxHashMap<String, Rank> = specials.into_iter().collect();
        Ok(Encoder { core: CoreBpe::new(ranks, specials, pattern).map_err(value_err)? })
    }

    #[getter]
    fn n_vocab(&self) -> usize {
        self.core.n_vocab()
    }

    fn encode_ordinary(&self, py: Python<'_>, text: &str) -> Vec<Rank> {
        py.detach(|| self.core.encode_ordinary(text))
    }

    fn encode(&self, py: Python<'_>, text: &str, allowed: Vec<String>) -> PyResult<Vec<Rank>> {
        let m = self.core.special_matcher(&allowed).map_err(value_err)?;
        Ok(py.detach(|| {
            let mut out = Vec::with_capacity(text.len() / 4);
            self.core.encode_with(text, m.as_ref(), &mut out);
            out
        }))
    }

    #[pyo3(signature = (texts, num_threads=0))]
    fn encode_ordinary_batch(&self, py: Python<'_>, texts: Vec<String>, num_threads: usize) -> PyResult<Vec<Vec<Rank>>> {
        let pool = pool(num_threads)?;
        Ok(py.detach(|| pool.install(|| self.core.encode_batch(&texts, None))))
    }

    #[pyo3(signature = (texts, allowed, num_threads=0))]
    fn encode_batch(
        &self, py: Python<'_>, texts: Vec<String>, allowed: Vec<String>, num_threads: usize,
    ) -> PyResult<Vec<Vec<Rank>>> {
        let m = self.core.special_matcher(&allowed).map_err(value_err)?;
        let pool = pool(num_threads)?;
        Ok(py.detach(|| pool.install(|| self.core.encode_batch(&texts, m.as_ref()))))
    }

    /// Encode one text into a numpy array; `num_threads` != 1 cuts it at safe points and encodes in parallel.
    #[pyo3(signature = (text, allowed, num_threads=1))]
    fn encode_to_numpy<'py>(
        &self, py: Python<'py>, text: &str, allowed: Vec<String>, num_threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = self.core.special_matcher(&allowed).map_err(value_err)?;
        let ids = if num_threads == 1 {
            py.detach(|| {
                let mut out = Vec::with_capacity(text.len() / 4);
                self.core.encode_with(text, m.as_ref(), &mut out);
                out
            })
        } else {
            let pool = pool(num_threads)?;
            py.detach(|| pool.install(|| self.core.encode_parallel(text, m.as_ref(), pool.current_num_threads() * 4)))
        };
        Ok(to_numpy(py, ids, self.core.n_vocab()))
    }

    /// Stream a UTF-8 file in blocks (cut at safe points) into one numpy array of ids, in parallel.
    #[pyo3(signature = (path, allowed, num_threads=0))]
    fn encode_file<'py>(
        &self, py: Python<'py>, path: &str, allowed: Vec<String>, num_threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = self.core.special_matcher(&allowed).map_err(value_err)?;
        let pool = pool(num_threads)?;
        let ids = py
            .detach(|| pool.install(|| self.core.encode_file(path, m.as_ref())))
            .map_err(PyOSError::new_err)?;
        Ok(to_numpy(py, ids, self.core.n_vocab()))
    }

    fn decode_bytes<'py>(&self, py: Python<'py>, ids: Vec<Rank>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.core.decode_bytes(&ids)).map_err(|id| {
            PyValueError::new_err(format!("token id {id} is not in the vocabulary (0..{})", self.core.n_vocab() - 1))
        })?;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// Split text with a pattern exactly as Python's `regex.findall` would (for tests and teaching).
#[pyfunction]
fn pretokenize(py: Python<'_>, text: &str, pattern: &str) -> PyResult<Vec<String>> {
    let s = Splitter::new(pattern).map_err(value_err)?;
    Ok(py.detach(|| s.split(text).into_iter().map(str::to_owned).collect()))
}

/// Train merges from a text or a file; returns (merges, number of unique pre-tokens).
/// `progress(phase, done, total)` is called now and then, with the GIL.
#[pyfunction(name = "train")]
#[pyo3(signature = (text, path, num_merges, pattern, specials, workers=0, progress=None))]
#[allow(clippy::too_many_arguments)]
fn train_merges(
    py: Python<'_>, text: Option<String>, path: Option<String>, num_merges: usize, pattern: &str,
    specials: Vec<String>, workers: usize, progress: Option<Py<PyAny>>,
) -> PyResult<(Vec<(u32, u32)>, usize)> {
    let splitter = Splitter::new(pattern).map_err(value_err)?;
    let pool = pool(workers)?;
    let mut report = |phase: &str, done: usize, total: usize| {
        if let Some(cb) = &progress {
            Python::attach(|py| {
                let _ = cb.call1(py, (phase, done, total)); // progress is best effort
            });
        }
    };
    py.detach(|| {
        pool.install(|| {
            let counts = match (&text, &path) {
                (Some(t), _) => {
                    let mut c = train::WordCounts::default();
                    train::count_text(t, &splitter, &specials, &mut c);
                    c
                }
                (None, Some(p)) => train::count_file(p, &splitter, &specials, &mut report)?,
                (None, None) => return Err("pass a text or a path to train on".to_string()),
            };
            let unique = counts.len();
            Ok((train::train_counts(counts, num_merges, &mut report), unique))
        })
    })
    .map_err(|e: String| if e.starts_with("cannot") { PyOSError::new_err(e) } else { value_err(e) })
}

#[pymodule]
fn bpe_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Encoder>()?;
    m.add_function(wrap_pyfunction!(pretokenize, m)?)?;
    m.add_function(wrap_pyfunction!(train_merges, m)?)?;
    Ok(())
}
