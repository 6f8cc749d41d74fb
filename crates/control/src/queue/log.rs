//! The embedded write queue's append log: the files that make an appended write durable
//! before its client is answered. A group commit is one `pwrite` at the log's tail and one
//! `fdatasync` of a page or two, where a durable SQLite commit of the same batch wrote every
//! page the insert touched (table, indexes, sequence, page 1: ≈ 22 pages measured) and synced
//! them. The queue's table in the state store is then written without syncs of its own; the
//! log covers it until a completed checkpoint has put the table on disk.
//!
//! Two files are written in turns ([`AppendLog::turn`]), each rewritten in place from its
//! beginning when its turn comes again, so the log neither grows nor waits for a checkpoint.
//! Layout of each: an 8-byte magic, then records `[len: u32 LE][crc: u32 LE][payload: len
//! bytes]`, the CRC-32C (Castagnoli, iSCSI polynomial; RFC 3720 §B.4) of `len` and the payload
//! together. A payload is one queued write with its queue position (`seq`). Reading stops at
//! the first record that does not check: a torn tail (a batch whose sync never returned, so no
//! client was answered) or the bytes of an older round after the point where this round
//! stopped. Older rounds' records that still check are harmless: their `seq` is at or below the
//! state store's high-water mark, and recovery skips those.

use bytes::Bytes;
use ficus_gateway::replay::WriteEntry;
use ficus_model::Side;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// First bytes of the file: the format, so another file is never read as a log.
const MAGIC: &[u8; 8] = b"FICUSWQ1";
/// Bytes before a record's payload.
const HEAD: usize = 8;
/// The largest payload read back: a longer length is a torn or stale record, not a write.
const MAX_RECORD: usize = 256 << 20;

/// How long opening waits for another holder of the log to let go.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The log could not be opened or read back.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("write queue log {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "write queue log {path}: another process holds it (is another `ficus serve` running on this state store?)"
    )]
    Locked { path: PathBuf },
    #[error("write queue log {path}: not a write queue log (it does not start with {MAGIC:?})")]
    NotALog { path: PathBuf },
    #[error(
        "write queue log {path}: the record at byte {offset} checks but cannot be read: {detail}"
    )]
    Undecodable { path: PathBuf, offset: u64, detail: &'static str },
}

/// Bytes a file of the log reaches before the writer turns to the other one (once everything
/// the other holds is durable in the table).
const TURN_AT: u64 = 4 << 20;

/// One of the log's two files.
#[derive(Debug)]
struct Half {
    file: File,
    path: PathBuf,
    /// Where the next record goes.
    tail: u64,
    /// Highest `seq` written since this file was last started over (`0`: none).
    top: i64,
}

/// The append log: two files written in turns. Records go to the current file's tail; once it
/// passes [`TURN_AT`] bytes and every write in the other file is durable in the table, the
/// writer starts the other one over from its beginning and turns to it. So the log never
/// waits for a checkpoint, and each file is rewritten in place instead of growing.
#[derive(Debug)]
pub struct AppendLog {
    halves: [Half; 2],
    current: usize,
    /// Reused encoding buffer.
    buf: Vec<u8>,
}

/// The paths of the append log's two files beside the state store at `store`: `<store>-writes`
/// and `<store>-writes2`, as SQLite names its own `-wal` and `-shm` files.
pub fn log_paths(store: &Path) -> [PathBuf; 2] {
    ["-writes", "-writes2"].map(|suffix| {
        let mut name = store.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Open one file of the log (created, with its magic synced, when missing), locked; its
/// bytes.
fn open_half(path: &Path) -> Result<(File, Vec<u8>), LogError> {
    let io = |source| LogError::Io { path: path.to_owned(), source };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    lock(&file, path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    if bytes.is_empty() {
        file.write_all(MAGIC).map_err(io)?;
        file.sync_all().map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The new file's name is durable too.
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        bytes.extend_from_slice(MAGIC);
    }
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(LogError::NotALog { path: path.to_owned() });
    }
    Ok((file, bytes))
}

/// Read the log's files at `paths` (without taking them): the writes above `after`, by `seq`.
/// For a writer whose table lost a commit the log covers; a record being written meanwhile
/// fails its checksum and ends its file there.
///
/// # Errors
/// As [`AppendLog::open`].
pub fn read_back(paths: &[PathBuf; 2], after: i64) -> Result<Vec<(i64, WriteEntry)>, LogError> {
    let mut found = Vec::new();
    for path in paths {
        let bytes =
            std::fs::read(path).map_err(|source| LogError::Io { path: path.clone(), source })?;
        if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(LogError::NotALog { path: path.clone() });
        }
        found.extend(scan(&bytes, after, path)?.0);
    }
    Ok(by_seq(found))
}

/// The writes of both files in queue order, each once (an older round's copy of a record can
/// still be readable in the other file).
fn by_seq(mut found: Vec<(i64, WriteEntry)>) -> Vec<(i64, WriteEntry)> {
    found.sort_by_key(|(seq, _)| *seq);
    found.dedup_by_key(|(seq, _)| *seq);
    found
}

impl AppendLog {
    /// Open the log's two files at `paths` (created when missing) and read them back: the
    /// writes they hold whose `seq` is above `after`, by `seq`. New records go after the last
    /// record that checks in the file holding the highest `seq`.
    ///
    /// # Errors
    /// [`LogError::Io`], [`LogError::Locked`] when another process holds the log,
    /// [`LogError::NotALog`] for a file with another beginning, or [`LogError::Undecodable`]
    /// for a record whose checksum holds but whose content does not parse (a log written by
    /// another version of Ficus); nothing is changed on disk then.
    pub fn open(
        paths: &[PathBuf; 2],
        after: i64,
    ) -> Result<(AppendLog, Vec<(i64, WriteEntry)>), LogError> {
        let open_one = |path: &PathBuf| -> Result<(Half, Vec<(i64, WriteEntry)>), LogError> {
            let (file, bytes) = open_half(path)?;
            let (mut records, end) = scan(&bytes, 0, path)?;
            let top = records.iter().map(|(seq, _)| *seq).max().unwrap_or(0);
            records.retain(|(seq, _)| *seq > after);
            Ok((Half { file, path: path.clone(), tail: end as u64, top }, records))
        };
        let (first, mut found) = open_one(&paths[0])?;
        let (second, more) = open_one(&paths[1])?;
        found.extend(more);
        let found = by_seq(found);
        let current = usize::from(second.top > first.top);
        Ok((AppendLog { halves: [first, second], current, buf: Vec::new() }, found))
    }

    /// Write one record per write with its queue position at the current file's tail, in one
    /// `pwrite`, without a sync: returns the file written to, which the caller syncs
    /// ([`AppendLog::files`]) before it counts the writes durable. A sync of the file covers
    /// every record written to it before.
    ///
    /// # Errors
    /// The write failed: whatever part reached the file is overwritten by the next write.
    pub fn write<'e>(
        &mut self,
        records: impl IntoIterator<Item = (i64, &'e WriteEntry)>,
    ) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        self.buf.clear();
        let mut top = 0;
        for (seq, e) in records {
            let start = self.buf.len();
            self.buf.extend_from_slice(&[0; HEAD]);
            encode(&mut self.buf, seq, e);
            let len = u32::try_from(self.buf.len() - start - HEAD)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "write too large"))?;
            self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
            let crc = checksum(&self.buf[start..start + 4], &self.buf[start + HEAD..]);
            self.buf[start + 4..start + HEAD].copy_from_slice(&crc.to_le_bytes());
            top = top.max(seq);
        }
        let half = &mut self.halves[self.current];
        half.file.write_all_at(&self.buf, half.tail)?;
        half.tail += self.buf.len() as u64;
        half.top = half.top.max(top);
        Ok(self.current)
    }

    /// Write and sync (one `fdatasync`): on `Ok` the records survive a crash of the process
    /// or the machine.
    ///
    /// # Errors
    /// The write or the sync failed: the records may or may not be on disk.
    #[cfg(test)]
    pub fn append<'e>(
        &mut self,
        records: impl IntoIterator<Item = (i64, &'e WriteEntry)>,
    ) -> io::Result<()> {
        let half = self.write(records)?;
        self.halves[half].file.sync_data()
    }

    /// Turn to the other file if the current one is past [`TURN_AT`] bytes and every write
    /// the other holds is at or below `durable` (stored and on disk in the table). The other
    /// file starts over; what is left of its old records after the new tail either fails its
    /// checksum or is at or below the table's high-water mark, and is skipped.
    pub fn turn(&mut self, durable: i64) {
        let other = 1 - self.current;
        if self.halves[self.current].tail >= TURN_AT && self.halves[other].top <= durable {
            self.halves[other].tail = MAGIC.len() as u64;
            self.halves[other].top = 0;
            self.current = other;
        }
    }

    /// Both files, for a thread that syncs them (`fdatasync` on a clone syncs the file).
    ///
    /// # Errors
    /// A handle cannot be duplicated.
    pub fn files(&self) -> io::Result<[File; 2]> {
        Ok([self.halves[0].file.try_clone()?, self.halves[1].file.try_clone()?])
    }

    /// The files' paths.
    pub fn paths(&self) -> [PathBuf; 2] {
        [self.halves[0].path.clone(), self.halves[1].path.clone()]
    }
}

/// Take the log for this process (an exclusive `flock`, released when the file is closed):
/// two writers appending to one log would overwrite each other's records. Waits up to
/// [`LOCK_WAIT`] for a writer that is stopping.
fn lock(file: &File, path: &Path) -> Result<(), LogError> {
    let since = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if since.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LogError::Locked { path: path.to_owned() });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LogError::Io { path: path.to_owned(), source });
            }
        }
    }
}

/// The writes above `after` in `bytes` (a whole log, magic first), and where the last record
/// that checks ends.
fn scan(
    bytes: &[u8],
    after: i64,
    path: &Path,
) -> Result<(Vec<(i64, WriteEntry)>, usize), LogError> {
    let mut found = Vec::new();
    let mut at = MAGIC.len();
    while let Some(payload) = record_at(bytes, at) {
        let (seq, entry) = decode(payload).map_err(|detail| LogError::Undecodable {
            path: path.to_owned(),
            offset: at as u64,
            detail,
        })?;
        if seq > after {
            found.push((seq, entry));
        }
        at += HEAD + payload.len();
    }
    Ok((found, at))
}

fn checksum(len: &[u8], payload: &[u8]) -> u32 {
    let mut digest = CRC.digest();
    digest.update(len);
    digest.update(payload);
    digest.finalize()
}

/// The payload of the record at `at`, if a whole record that checks is there.
fn record_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let head = bytes.get(at..at + HEAD)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
    if len > MAX_RECORD {
        return None;
    }
    let payload = bytes.get(at + HEAD..at + HEAD + len)?;
    (checksum(&head[..4], payload) == crc).then_some(payload)
}

// The payload: seq (i64 LE), then the entry's fields in declaration order; strings and the body
// as u32 LE length + bytes; options as a 0/1 byte then the value; the side as one byte;
// headers as a u32 count of name/value pairs.

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    // A field over 4 GiB cannot be in one request the gateway accepted; saturate rather than
    // wrap (the record would then fail to decode and be reported, never misread).
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(b);
}

fn put_opt(buf: &mut Vec<u8>, s: Option<&String>) {
    match s {
        Some(s) => {
            buf.push(1);
            put_bytes(buf, s.as_bytes());
        }
        None => buf.push(0),
    }
}

fn encode(buf: &mut Vec<u8>, seq: i64, e: &WriteEntry) {
    buf.extend_from_slice(&seq.to_le_bytes());
    for s in [&e.id, &e.domain, &e.route, &e.key, &e.method, &e.target] {
        put_bytes(buf, s.as_bytes());
    }
    buf.extend_from_slice(&u32::try_from(e.headers.len()).unwrap_or(u32::MAX).to_le_bytes());
    for (name, value) in &e.headers {
        put_bytes(buf, name.as_bytes());
        put_bytes(buf, value.as_bytes());
    }
    put_bytes(buf, &e.body);
    buf.push(u8::from(e.to == Side::New));
    put_opt(buf, e.authoritative_id.as_ref());
    buf.extend_from_slice(&e.accepted_at_ms.to_le_bytes());
    put_opt(buf, e.unreplayable.as_ref());
}

/// Reads a payload front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("it ends inside a field");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn eight(&mut self) -> Result<[u8; 8], &'static str> {
        let mut a = [0; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(a)
    }
    fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, &'static str> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "a text field is not UTF-8")
    }
    fn opt(&mut self) -> Result<Option<String>, &'static str> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err("an optional field has a bad tag"),
        }
    }
}

fn decode(payload: &[u8]) -> Result<(i64, WriteEntry), &'static str> {
    let mut r = Reader(payload);
    let seq = i64::from_le_bytes(r.eight()?);
    let (id, domain, route) = (r.string()?, r.string()?, r.string()?);
    let (key, method, target) = (r.string()?, r.string()?, r.string()?);
    let count = r.u32()? as usize;
    // Each pair takes at least 8 bytes, which bounds the allocation by the payload's size.
    let mut headers = Vec::with_capacity(count.min(payload.len() / 8));
    for _ in 0..count {
        headers.push((r.string()?, r.string()?));
    }
    let body = Bytes::copy_from_slice(r.bytes()?);
    let to = match r.u8()? {
        0 => Side::Legacy,
        1 => Side::New,
        _ => return Err("the side is neither legacy nor new"),
    };
    let authoritative_id = r.opt()?;
    let accepted_at_ms = u64::from_le_bytes(r.eight()?);
    let unreplayable = r.opt()?;
    if !r.0.is_empty() {
        return Err("bytes are left after the last field");
    }
    let entry = WriteEntry {
        id,
        domain,
        route,
        key,
        method,
        target,
        headers,
        body,
        to,
        authoritative_id,
        accepted_at_ms,
        unreplayable,
    };
    Ok((seq, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32) -> WriteEntry {
        WriteEntry {
            id: format!("w-{n:032x}"),
            domain: "invoices".into(),
            route: "/invoices/{id}".into(),
            key: format!("{n}"),
            method: "PUT".into(),
            target: format!("/invoices/{n}?x=é"),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(format!("{{\"total\":{n},\"note\":\"🎵\"}}")),
            to: if n.is_multiple_of(2) { Side::New } else { Side::Legacy },
            authoritative_id: n.is_multiple_of(3).then(|| format!("a{n}")),
            accepted_at_ms: 1_700_000_000_000 + u64::from(n),
            unreplayable: (n == 5).then(|| "body too large".to_owned()),
        }
    }

    fn same(a: &WriteEntry, b: &WriteEntry) -> bool {
        (&a.id, &a.domain, &a.route, &a.key, &a.method, &a.target, &a.headers, &a.body)
            == (&b.id, &b.domain, &b.route, &b.key, &b.method, &b.target, &b.headers, &b.body)
            && (a.to, &a.authoritative_id, a.accepted_at_ms, &a.unreplayable)
                == (b.to, &b.authoritative_id, b.accepted_at_ms, &b.unreplayable)
    }

    fn entries(range: std::ops::Range<u32>) -> (Vec<i64>, Vec<WriteEntry>) {
        (range.clone().map(i64::from).collect(), range.map(entry).collect())
    }

    fn paths(dir: &tempfile::TempDir) -> [PathBuf; 2] {
        log_paths(&dir.path().join("state.db"))
    }

    fn seqs(found: &[(i64, WriteEntry)]) -> Vec<i64> {
        found.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn appended_writes_are_read_back_above_the_high_water_mark() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, found) = AppendLog::open(&paths(&dir), 0).unwrap();
        assert!(found.is_empty());
        let (s, es) = entries(1..4);
        log.append(s.iter().copied().zip(&es)).unwrap();
        let (s, es) = entries(4..9);
        log.append(s.iter().copied().zip(&es)).unwrap();
        drop(log);
        let (_, found) = AppendLog::open(&paths(&dir), 3).unwrap();
        assert_eq!(seqs(&found), vec![4, 5, 6, 7, 8]);
        for (seq, e) in &found {
            assert!(same(e, &entry(u32::try_from(*seq).unwrap())), "write {seq} read back changed");
        }
        assert_eq!(seqs(&read_back(&paths(&dir), 6).unwrap()), vec![7, 8]);
    }

    #[test]
    fn a_torn_tail_is_not_read_and_the_next_append_follows_the_last_whole_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = AppendLog::open(&paths(&dir), 0).unwrap();
        let (s, es) = entries(1..3);
        log.append(s.iter().copied().zip(&es)).unwrap();
        let path = &paths(&dir)[0];
        let whole = std::fs::metadata(path).unwrap().len();
        let (s, es) = entries(3..4);
        log.append(s.iter().copied().zip(&es)).unwrap();
        drop(log);
        // A crash in the middle of the last batch: half of its record reached the disk.
        let full = std::fs::metadata(path).unwrap().len();
        let f = OpenOptions::new().write(true).open(path).unwrap();
        f.set_len(whole + (full - whole) / 2).unwrap();
        drop(f);
        let (mut log, found) = AppendLog::open(&paths(&dir), 0).unwrap();
        assert_eq!(seqs(&found), vec![1, 2]);
        let (s, es) = entries(7..8);
        log.append(s.iter().copied().zip(&es)).unwrap();
        drop(log);
        let (_, found) = AppendLog::open(&paths(&dir), 0).unwrap();
        assert_eq!(seqs(&found), vec![1, 2, 7]);
    }

    #[test]
    fn a_flipped_byte_ends_the_log_there() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = AppendLog::open(&paths(&dir), 0).unwrap();
        for n in 1..5 {
            let (s, es) = entries(n..n + 1);
            log.append(s.iter().copied().zip(&es)).unwrap();
        }
        drop(log);
        let path = &paths(&dir)[0];
        let mut bytes = std::fs::read(path).unwrap();
        let third = MAGIC.len() + 2 * (bytes.len() - MAGIC.len()) / 4;
        bytes[third + HEAD + 3] ^= 0x40;
        std::fs::write(path, &bytes).unwrap();
        let (_, found) = AppendLog::open(&paths(&dir), 0).unwrap();
        assert_eq!(seqs(&found), vec![1, 2]);
    }

    /// The writer turns to the other file only once the current one is full and the other's
    /// writes are all durable in the table; the file it turns to is rewritten in place, and
    /// after a restart everything above the high-water mark is read back from both files.
    #[test]
    fn the_files_are_written_in_turns_and_read_back_together() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = AppendLog::open(&paths(&dir), 0).unwrap();
        let big = |n: u32| {
            let mut e = entry(n);
            e.body = Bytes::from(vec![b'x'; 64 << 10]);
            e
        };
        let mut n = 0;
        let mut fill = |log: &mut AppendLog, upto: u64| {
            while log.halves[log.current].tail < upto {
                n += 1;
                log.append([(i64::from(n), &big(n))]).unwrap();
            }
            n
        };
        let first_full = fill(&mut log, TURN_AT);
        log.turn(0);
        assert_eq!(log.current, 1, "the other file is empty: nothing to wait for");
        let second_full = fill(&mut log, TURN_AT);
        log.turn(i64::from(first_full) - 1);
        assert_eq!(log.current, 1, "the first file holds a write that is not durable yet");
        log.turn(i64::from(first_full));
        assert_eq!(log.current, 0);
        let size = std::fs::metadata(&paths(&dir)[0]).unwrap().len();
        let last = fill(&mut log, 3 * (64 << 10));
        drop(log);
        assert_eq!(std::fs::metadata(&paths(&dir)[0]).unwrap().len(), size, "rewritten in place");
        let after = i64::from(first_full) + 2;
        let (log, found) = AppendLog::open(&paths(&dir), after).unwrap();
        let want: Vec<i64> = (after + 1..=i64::from(last)).collect();
        assert_eq!(seqs(&found), want, "the rest of the second file, then the first's new round");
        assert!(i64::from(second_full) < i64::from(last));
        assert_eq!(log.current, 0, "it goes on in the file with the newest writes");
    }

    #[test]
    fn a_log_held_by_another_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_held, _) = AppendLog::open(&paths(&dir), 0).unwrap();
        let err = AppendLog::open(&paths(&dir), 0).unwrap_err();
        assert!(matches!(err, LogError::Locked { .. }), "{err}");
    }

    #[test]
    fn another_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = paths(&dir)[0].clone();
        std::fs::write(&path, b"SQLite format 3\0").unwrap();
        let err = AppendLog::open(&paths(&dir), 0).unwrap_err();
        assert!(matches!(err, LogError::NotALog { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"SQLite format 3\0");
    }

    #[test]
    fn a_record_that_checks_but_does_not_parse_is_an_error_naming_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = paths(&dir)[1].clone();
        let payload = b"too short";
        let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&len);
        bytes.extend_from_slice(&checksum(&len, payload).to_le_bytes());
        bytes.extend_from_slice(payload);
        std::fs::write(&path, &bytes).unwrap();
        let err = AppendLog::open(&paths(&dir), 0).unwrap_err();
        assert!(matches!(err, LogError::Undecodable { offset: 8, .. }), "{err}");
    }
}
