//! Python bindings only: argument conversion, GIL release, errors. No algorithms here.

use pyo3::prelude::*;

#[pyfunction]
fn count_pairs(py: Python<'_>, words: Vec<Vec<u32>>, freqs: Vec<u64>) -> Vec<((u32, u32), u64)> {
    py.detach(|| crate::train::count_pairs(&words, &freqs).into_iter().collect())
}

#[pymodule]
fn bpe_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(count_pairs, m)?)?;
    Ok(())
}
