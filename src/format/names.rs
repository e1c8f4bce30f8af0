//! The names of a run's output files, in one place: the manifest, the split groups, the RecordIO
//! files and shards, the preprocess tables, the SageMaker manifest files and the index maps.
//! Writers take their paths from here and `outputs::lifecycle`
//! recognises fmprep's files by the same names.

/// The file that marks a finished run, written last.
pub const MANIFEST: &str = "manifest.json";

/// The three splits, in the order they are written and listed.
pub const SPLITS: [&str; 3] = ["train", "validate", "test"];

/// Each split with its CSV table (what [`split_table`] gives without `parquet`), in order.
pub const SPLIT_CSV: [(&str, &str); 3] = [
    ("train", "train/train.csv"),
    ("validate", "validate/validate.csv"),
    ("test", "test/test.csv"),
];

/// The customer index map (`customer_id`, index, count).
pub const CUSTOMER_MAP: &str = "maps/customers.tsv";

/// The product index map (`product_id`, index, count, title).
pub const PRODUCT_MAP: &str = "maps/products.tsv";

/// The one RecordIO file of `split` (`train/train.protobuf`); the test split is in chunks
/// ([`test_chunk`]) instead.
pub fn split_file(split: &str) -> String {
    format!("{split}/{split}.protobuf")
}

/// The `i`-th test file of at most `--test-chunk` records (`test/test_0.protobuf`).
pub fn test_chunk(i: usize) -> String {
    format!("test/test_{i}.protobuf")
}

/// The `i`-th training shard of `--train-shards` (`train/train_0.protobuf`).
pub fn train_shard(i: usize) -> String {
    format!("train/train_{i}.protobuf")
}

/// The SageMaker `ManifestFile` of `split` written with `--train-shards` (`train/train.manifest`).
pub fn sagemaker_manifest(split: &str) -> String {
    format!("{split}/{split}.manifest")
}

/// The table `preprocess` writes for `split`: `train/train.csv`, or `.parquet` with `parquet`.
pub fn split_table(split: &str, parquet: bool) -> String {
    format!("{split}/{split}.{}", if parquet { "parquet" } else { "csv" })
}

/// The sort key that orders numbered file names naturally (`test_2` before `test_10`): runs of
/// digits compare as numbers.
pub fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut num: Option<u64> = None;
    for ch in s.chars() {
        if let Some(d) = ch.to_digit(10) {
            num = Some(num.unwrap_or(0).saturating_mul(10).saturating_add(d as u64));
        } else {
            if let Some(n) = num.take() {
                out.push((std::mem::take(&mut text), n));
            }
            text.push(ch);
        }
    }
    out.push((text, num.unwrap_or(0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_layout() {
        assert_eq!(split_file("validate"), "validate/validate.protobuf");
        assert_eq!(test_chunk(12), "test/test_12.protobuf");
        assert_eq!(train_shard(0), "train/train_0.protobuf");
        assert_eq!(sagemaker_manifest("test"), "test/test.manifest");
        assert_eq!(split_table("train", true), "train/train.parquet");
        assert_eq!(split_table("test", false), "test/test.csv");
        for (split, csv) in SPLIT_CSV {
            assert_eq!(split_table(split, false), csv);
        }
    }

    #[test]
    fn natural_order_of_chunks() {
        let mut v = vec!["t/test_10.protobuf", "t/test_2.protobuf", "t/test_1.protobuf"];
        v.sort_by_key(|p| natural_key(p));
        assert_eq!(
            v,
            vec!["t/test_1.protobuf", "t/test_2.protobuf", "t/test_10.protobuf"]
        );
    }
}
