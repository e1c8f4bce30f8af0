//! Which split each row belongs to when the data decides it rather than a cut of a permutation:
//! the holdout-last membership (each customer's latest rows), the times it reads, and the listing
//! of members in a given row order. Shared by the permutation shuffles (`split::mode`) and the
//! keyed hash (`split::hash`).

use crate::model::{Rating, Ratings};
use crate::stages::split::cut::Split;

/// The time of each of `rows` (a subset of `ratings.rows` without duplicate pairs, as the filters
/// leave them): the time of the first raw row with the same (customer, product) pair, which is the
/// row de-duplication kept. Only looked up, never iterated, so hash order cannot leak out.
pub fn times_of(rows: &[Rating], ratings: &Ratings) -> Vec<u32> {
    let mut first: hashbrown::HashMap<u64, Option<u32>, foldhash::fast::FixedState> =
        hashbrown::HashMap::with_capacity_and_hasher(rows.len(), foldhash::fast::FixedState::with_seed(11));
    for r in rows {
        first.insert(r.pair(), None);
    }
    for (r, &t) in ratings.rows.iter().zip(&ratings.times) {
        if let Some(slot @ None) = first.get_mut(&r.pair()) {
            *slot = Some(t);
        }
    }
    rows.iter()
        .map(|r| first[&r.pair()].expect("every kept row comes from the raw rows"))
        .collect()
}

/// Which split a row goes to.
pub(crate) const TRAIN: u8 = 0;
pub(crate) const VALIDATE: u8 = 1;
pub(crate) const TEST: u8 = 2;

/// Positions of `perm` sorted into the splits their `member` entry names, keeping `perm` order.
pub(crate) fn by_membership(perm: &[u32], member: &[u8]) -> Split {
    let mut s = Split::default();
    for &pos in perm {
        match member[pos as usize] {
            TRAIN => s.train.push(pos),
            VALIDATE => s.validate.push(pos),
            _ => s.test.push(pos),
        }
    }
    s
}

/// [`holdout_last`] with the times as the split stages hold them: absent times are a bug of the
/// caller (the reader is asked for them whenever the mode is holdout-last).
pub(crate) fn holdout_last_of(
    rows: &[Rating],
    times: Option<&[u32]>,
    customer_index: &[u32],
    holdout_validate: bool,
) -> crate::error::Result<Vec<u8>> {
    let times = times.ok_or_else(|| {
        crate::error::Error::new(
            crate::ErrorKind::Internal,
            "holdout-last split without a time per row",
        )
    })?;
    Ok(holdout_last(rows, times, customer_index, holdout_validate))
}

/// The membership of each row in holdout-last mode.
pub(crate) fn holdout_last(
    rows: &[Rating],
    times: &[u32],
    customer_index: &[u32],
    holdout_validate: bool,
) -> Vec<u8> {
    let n_customers = customer_index
        .iter()
        .filter(|&&i| i != crate::stages::index::NO_INDEX)
        .count();
    const NONE: u32 = u32::MAX;
    // Per customer: the latest and the next latest row and the row count. "Later" means a greater
    // time, or the same time and a later input position: rows are visited in input order and `>=`
    // lets a later row with an equal time win.
    let mut last = vec![NONE; n_customers];
    let mut second = vec![NONE; n_customers];
    let mut count = vec![0u32; n_customers];
    for (i, r) in rows.iter().enumerate() {
        let c = customer_index[r.customer() as usize] as usize;
        count[c] += 1;
        let t = times[i];
        if last[c] == NONE || t >= times[last[c] as usize] {
            second[c] = last[c];
            last[c] = i as u32;
        } else if second[c] == NONE || t >= times[second[c] as usize] {
            second[c] = i as u32;
        }
    }
    let mut member = vec![TRAIN; rows.len()];
    for c in 0..n_customers {
        if count[c] >= 2 {
            member[last[c] as usize] = TEST;
        }
        if holdout_validate && count[c] >= 3 {
            member[second[c] as usize] = VALIDATE;
        }
    }
    member
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_last_picks_latest_with_input_order_ties() {
        // customer a: times 5, 9, 9, 1 -> last = row 2 (tie at 9, later row), second = row 1.
        // customer b: two rows -> last held out, no validate row. customer c: one row, kept in train.
        let r = Ratings::from_triples([
            ("a", "p1", 1),
            ("a", "p2", 1),
            ("a", "p3", 1),
            ("a", "p4", 1),
            ("b", "p1", 1),
            ("b", "p2", 1),
            ("c", "p1", 1),
        ]);
        let times = [5, 9, 9, 1, 3, 2, 7];
        let member = holdout_last(&r.rows, &times, &[0, 1, 2], true);
        assert_eq!(member, vec![TRAIN, VALIDATE, TEST, TRAIN, TEST, TRAIN, TRAIN]);
        let member = holdout_last(&r.rows, &times, &[0, 1, 2], false);
        assert_eq!(member, vec![TRAIN, TRAIN, TEST, TRAIN, TEST, TRAIN, TRAIN]);
    }
}
