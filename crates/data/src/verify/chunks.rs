//! Where verify cuts a table: top-level chunks (by key value for a single integer key, else at
//! every N-th source key) and the sub-ranges a differing range is bisected into.

use super::side::View;
use crate::error::DataError;
use crate::keyset::KeyRange;

/// For a single integer key: the smallest and largest key of either side (two index probes
/// per side); `None` for other keys or empty tables.
pub(super) async fn int_span(
    src: &View<'_>,
    tgt: &View<'_>,
) -> Result<Option<(i128, i128)>, DataError> {
    let (a, b) = tokio::try_join!(src.int_min_max(), tgt.int_min_max())?;
    Ok(match (a, b) {
        (Some((x, y)), Some((z, w))) => Some((x.min(z), y.max(w))),
        (one, None) | (None, one) => one,
    })
}

/// Top-level chunks at every `chunk_rows`-th source key (one offset query per chunk).
pub(super) async fn offset_chunks(
    src: &View<'_>,
    chunk_rows: u64,
) -> Result<Vec<KeyRange>, DataError> {
    let mut chunks = Vec::new();
    let mut lo: Option<Vec<String>> = None;
    loop {
        let range = KeyRange { lo: lo.clone(), hi: None };
        match src.key_at(&range, chunk_rows.saturating_sub(1)).await? {
            Some(hi) => {
                chunks.push(KeyRange { lo, hi: Some(hi.clone()) });
                lo = Some(hi);
            }
            None => {
                chunks.push(range);
                return Ok(chunks);
            }
        }
    }
}

/// Top-level chunks of an integer key: steps of the key span `(min, max)` sized so that each
/// holds about `chunk_rows` of the table's `rows` on average. No query.
pub(super) fn value_chunks((min, max): (i128, i128), rows: u64, chunk_rows: u64) -> Vec<KeyRange> {
    let width = max - min + 1;
    let rows = i128::from(rows.max(1)).min(width.max(1));
    let step = (width * i128::from(chunk_rows.max(1)) / rows).max(1);
    let mut bounds = Vec::new();
    let mut b = min - 1 + step;
    while b < max {
        bounds.push(vec![b.to_string()]);
        b += step;
    }
    cut(&KeyRange::default(), bounds)
}

/// Cut `range` at keys of the side holding more rows, found by offset (so extra target rows are
/// bisected too).
pub(super) async fn split_by_offset(
    src: &View<'_>,
    tgt: &View<'_>,
    range: &KeyRange,
    (ns, nt): (u64, u64),
    fan_out: u64,
) -> Result<Vec<KeyRange>, DataError> {
    let n = ns.max(nt);
    let side = if ns >= nt { src } else { tgt };
    let mut bounds = Vec::new();
    for i in 1..fan_out {
        let offset = n * i / fan_out;
        if offset == 0 {
            continue;
        }
        if let Some(k) = side.key_at(range, offset - 1).await?
            && bounds.last() != Some(&k)
        {
            bounds.push(k);
        }
    }
    Ok(cut(range, bounds))
}

/// Cut `range` of an integer key into `fan_out` sub-ranges of equal key width; `span` is the
/// smallest and largest key of both sides, which closes an open end. No query: this is why
/// an integer key bisects faster (reladiff splits by key value the same way).
pub(super) fn split_by_value(
    range: &KeyRange,
    (min, max): (i128, i128),
    fan_out: u64,
) -> Vec<KeyRange> {
    let (lo, hi) = int_bounds(range, (min, max));
    let width = hi - lo;
    let mut bounds: Vec<Vec<String>> = Vec::new();
    for i in 1..fan_out as i128 {
        let b = lo + width * i / fan_out as i128;
        if b > lo && b < hi && bounds.last().is_none_or(|l| l[0] != b.to_string()) {
            bounds.push(vec![b.to_string()]);
        }
    }
    cut(range, bounds)
}

/// The integer bounds `(lo, hi]` of `range`, an open end closed by `span` (the smallest and
/// largest key of both sides).
pub(super) fn int_bounds(range: &KeyRange, (min, max): (i128, i128)) -> (i128, i128) {
    let bound = |k: &Option<Vec<String>>| k.as_ref().and_then(|k| k.first()?.parse::<i128>().ok());
    (bound(&range.lo).unwrap_or(min - 1), bound(&range.hi).unwrap_or(max))
}

/// `range` cut at `bounds` (ascending, inside it).
fn cut(range: &KeyRange, bounds: Vec<Vec<String>>) -> Vec<KeyRange> {
    let mut lo = range.lo.clone();
    let mut parts = Vec::with_capacity(bounds.len() + 1);
    for b in bounds {
        parts.push(KeyRange { lo: lo.clone(), hi: Some(b.clone()) });
        lo = Some(b);
    }
    parts.push(KeyRange { lo, hi: range.hi.clone() });
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(v: i64) -> Option<Vec<String>> {
        Some(vec![v.to_string()])
    }

    #[test]
    fn an_integer_range_is_cut_into_equal_widths_covering_it_exactly() {
        let r = KeyRange { lo: k(100), hi: k(132) };
        let parts = split_by_value(&r, (1, 1000), 4);
        let bounds: Vec<_> = parts.iter().map(|p| (p.lo.clone(), p.hi.clone())).collect();
        assert_eq!(
            bounds,
            vec![(k(100), k(108)), (k(108), k(116)), (k(116), k(124)), (k(124), k(132))]
        );
        // Open ends are closed by the span but stay open in the parts, so rows outside the
        // span (extra target rows) still fall in a part.
        let parts = split_by_value(&KeyRange::default(), (1, 8), 2);
        assert_eq!(parts[0].lo, None);
        assert_eq!(parts[0].hi, k(4));
        assert_eq!(parts[1].hi, None);
        // A range narrower than the fan-out is cut at every key, never into empty bounds.
        let parts = split_by_value(&KeyRange { lo: k(5), hi: k(7) }, (1, 8), 32);
        assert_eq!(parts.len(), 2);
    }
}
