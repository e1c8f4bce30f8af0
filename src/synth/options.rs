//! What `fmprep synth` is asked for ([`SynthOptions`]) and what it reports ([`SynthStats`]).

/// Options for the synthetic reviews generator.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Number of data lines to write after the header (bad lines included).
    pub rows: u64,
    /// Seed of the whole file: the same options give the same bytes.
    pub seed: u64,
    /// Share of malformed lines (default 1e-5, about 40 in the full-size file, like the handful
    /// the real file has). Values outside `0..=1` behave as if clamped.
    pub bad_line_rate: f64,
    /// Share of rows that re-rate an earlier (customer, product) pair exactly (default 1e-3).
    /// Values outside `0..=1` behave as if clamped.
    pub duplicate_rate: f64,
    /// Generation stops with an error between batches once this token is set.
    pub cancel: crate::cancel::Cancel,
}

impl Default for SynthOptions {
    /// The size of the real video file (4,057,147 reviews), seed 1.
    fn default() -> Self {
        SynthOptions {
            rows: 4_057_147,
            seed: 1,
            bad_line_rate: 1e-5,
            duplicate_rate: 1e-3,
            cancel: crate::cancel::Cancel::default(),
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SynthStats {
    /// Data lines written (the header excluded, bad lines included).
    pub rows: u64,
    /// Malformed lines among them.
    pub bad_lines: u64,
    /// Rows that deliberately repeat an earlier (customer, product) pair.
    pub duplicates: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}
