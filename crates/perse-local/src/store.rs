//! Enrolled users: a user token, its enrollment order and its face descriptor. Never a photo.
//!
//! In memory by default (tests get a clean server each time). With a data directory
//! (`serve --data-dir DIR`, option `dataDir`) every change is also written, in one ACID
//! transaction, to `DIR/enrollments.redb` (redb: pure Rust, crash-safe, no system library), and
//! the file is read back at start, so enrollments survive a restart. The map stays the
//! source for reads; a write reaches the map only after the file has committed it.
//! redb locks the file: a second server on the same directory is refused at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::backends::{FileBackend, InMemoryBackend};
use redb::{Database, ReadableTable, StorageBackend, TableDefinition};

use crate::analysis::Descriptor;

/// token → seq (u64 LE) followed by the descriptor (128 × f32 LE).
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");

/// The store's file inside the data directory.
pub const FILE_NAME: &str = "enrollments.redb";

#[derive(Default)]
pub struct Store {
    users: HashMap<String, (u64, Descriptor)>,
    next_seq: u64,
    db: Option<Database>,
}

impl Store {
    /// A store that lives as long as the server.
    pub fn memory() -> Store {
        Store::default()
    }

    /// Opens (or creates) `dir/enrollments.redb` and loads what it holds.
    ///
    /// A damaged file is refused and left exactly as it was: before the file itself is opened
    /// (which may repair it in place), a copy in memory is opened and read whole. A file that
    /// was only closed uncleanly (the process was killed) passes: redb repairs it, as it
    /// would anyway. One that is truncated or overwritten fails there, and redb's own
    /// assertions on such files, panics, are caught without reaching stderr.
    pub fn open(dir: &Path) -> Result<Store, String> {
        let path: PathBuf = dir.join(FILE_NAME);
        let fail = |what: &str, e: &dyn std::fmt::Display| format!("cannot {what} {}: {e}", path.display());
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", &e))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| fail("open", &e))?;
        // Takes redb's lock on the file first, so a file in use is reported as such, not
        // probed while another server writes it.
        let backend = FileBackend::new(file).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => format!(
                "{} is in use by another local server (one server per data directory)",
                path.display()
            ),
            e => fail("open", &e),
        })?;
        let damaged = |why: String| {
            format!(
                "{} is damaged and cannot be read ({why}). It was not modified. Restore a backup copy of it, \
                 or move it aside to start with no enrollments (mv {} {}.damaged)",
                path.display(),
                path.display(),
                path.display(),
            )
        };
        caught(|| probe(&backend)).map_err(damaged)?;
        let db = caught(|| {
            Database::builder()
                .create_with_backend(backend)
                .map_err(|e| e.to_string())
        })
        .map_err(damaged)?;
        let mut store = caught(|| load(&db)).map_err(damaged)?;
        store.db = Some(db);
        Ok(store)
    }

    pub fn get(&self, token: &str) -> Option<Descriptor> {
        self.users.get(token).map(|u| u.1.clone())
    }

    pub fn contains(&self, token: &str) -> bool {
        self.users.contains_key(token)
    }

    /// Stores `d` under `token`: a new token goes last, an existing one keeps its place.
    pub fn put(&mut self, token: &str, d: Descriptor) -> Result<(), String> {
        let seq = self.users.get(token).map_or(self.next_seq, |u| u.0);
        self.write(|t| {
            t.insert(token, encode(seq, &d).as_slice())?;
            Ok(())
        })?;
        self.next_seq = self.next_seq.max(seq + 1);
        self.users.insert(token.to_string(), (seq, d));
        Ok(())
    }

    /// Whether `token` was enrolled (and is now gone).
    pub fn remove(&mut self, token: &str) -> Result<bool, String> {
        if !self.users.contains_key(token) {
            return Ok(false);
        }
        self.write(|t| t.remove(token).map(drop))?;
        self.users.remove(token);
        Ok(true)
    }

    /// User tokens in enrollment order.
    pub fn list(&self) -> Vec<String> {
        let mut users: Vec<(&String, u64)> = self.users.iter().map(|(t, (seq, _))| (t, *seq)).collect();
        users.sort_by_key(|u| u.1);
        users.into_iter().map(|u| u.0.clone()).collect()
    }

    /// Forgets every enrollment (the file too).
    pub fn clear(&mut self) -> Result<(), String> {
        self.write(|t| t.retain(|_, _| false))?;
        self.users.clear();
        self.next_seq = 0;
        Ok(())
    }

    /// Forgets everything held in memory and releases the file (its lock too); the file
    /// keeps its enrollments for the next server.
    pub fn close(&mut self) {
        *self = Store::default();
    }

    /// Runs `f` on the users table in one committed transaction (nothing without a file).
    fn write(
        &self,
        f: impl FnOnce(&mut redb::Table<&str, &[u8]>) -> Result<(), redb::StorageError>,
    ) -> Result<(), String> {
        let Some(db) = &self.db else { return Ok(()) };
        let err = |e: &dyn std::fmt::Display| format!("the enrollment store could not be written: {e}");
        let tx = db.begin_write().map_err(|e| err(&e))?;
        {
            let mut table = tx.open_table(USERS).map_err(|e| err(&e))?;
            f(&mut table).map_err(|e| err(&e))?;
        }
        tx.commit().map_err(|e| err(&e))
    }
}

/// Reads every user of `db` (in a write transaction: it also creates the table in a new file).
fn load(db: &Database) -> Result<Store, String> {
    let mut store = Store::default();
    let tx = db.begin_write().map_err(|e| e.to_string())?;
    {
        let table = tx.open_table(USERS).map_err(|e| e.to_string())?;
        for row in table.iter().map_err(|e| e.to_string())? {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let (seq, d) = decode(v.value()).ok_or("a record has the wrong size")?;
            store.next_seq = store.next_seq.max(seq + 1);
            store.users.insert(k.value().to_string(), (seq, d));
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(store)
}

/// Files larger than this are opened without the probe (it holds a copy in memory); far
/// above what a test server's enrollments take (about 600 bytes a user).
const PROBE_MAX_BYTES: u64 = 512 * 1024 * 1024;

/// Opens and reads a copy of the file in memory: what opening the file itself would do,
/// repair included, without writing to it.
fn probe(file: &FileBackend) -> Result<(), String> {
    let len = file.len().map_err(|e| e.to_string())?;
    if len == 0 || len > PROBE_MAX_BYTES {
        return Ok(());
    }
    let copy = InMemoryBackend::new();
    let read = |e: std::io::Error| format!("reading it failed: {e}");
    copy.set_len(len).map_err(read)?;
    copy.write(0, &file.read(0, len as usize).map_err(read)?)
        .map_err(read)?;
    let db = Database::builder()
        .create_with_backend(copy)
        .map_err(|e| e.to_string())?;
    load(&db).map(drop)
}

thread_local! {
    /// Set while [`caught`] runs on this thread: its panics are expected and not printed.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic into an error. redb asserts on some damaged files; such a panic
/// is an answer here, so the panic hook installed once below keeps it off stderr (other
/// panics, and other threads', go to the hook that was there before).
fn caught<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    out.unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "an internal check of the store failed".into());
        let why = why.strip_prefix("assertion failed: ").unwrap_or(&why);
        Err(format!(
            "a consistency check failed: {}",
            perse_core::one_line(why, 200)
        ))
    })
}

fn encode(seq: u64, d: &Descriptor) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + d.0.len() * 4);
    v.extend_from_slice(&seq.to_le_bytes());
    d.0.iter().for_each(|x| v.extend_from_slice(&x.to_le_bytes()));
    v
}

fn decode(v: &[u8]) -> Option<(u64, Descriptor)> {
    let (seq, rest) = v.split_first_chunk::<8>()?;
    if rest.len() != perse_engine::DESCRIPTOR_LEN * 4 {
        return None;
    }
    let d = rest
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some((u64::from_le_bytes(*seq), Descriptor(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: f32) -> Descriptor {
        Descriptor(vec![x; perse_engine::DESCRIPTOR_LEN])
    }

    #[test]
    fn survives_a_reopen_in_order_and_refuses_a_second_opener() {
        let dir = std::env::temp_dir().join(format!("perse-store-{:x}", rand::random::<u64>()));
        {
            let mut s = Store::open(&dir).unwrap();
            s.put("usr_b", d(1.0)).unwrap();
            s.put("usr_a", d(2.0)).unwrap();
            s.put("usr_c", d(3.0)).unwrap();
            assert!(s.remove("usr_c").unwrap());
            assert!(!s.remove("usr_c").unwrap());
            s.put("usr_b", d(4.0)).unwrap(); // update keeps its place
            let second = Store::open(&dir).err().unwrap();
            assert!(second.contains("in use by another local server"), "{second}");
            s.close();
            assert!(s.list().is_empty());
            drop(Store::open(&dir).unwrap()); // the lock went with close()
        }
        let mut s = Store::open(&dir).unwrap();
        assert_eq!(s.list(), ["usr_b", "usr_a"]);
        assert_eq!(s.get("usr_b"), Some(d(4.0)));
        s.put("usr_z", d(5.0)).unwrap();
        assert_eq!(s.list(), ["usr_b", "usr_a", "usr_z"]);
        s.clear().unwrap();
        drop(s);
        assert!(Store::open(&dir).unwrap().list().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_file_is_refused_untouched_without_a_panic_message() {
        let dir = std::env::temp_dir().join(format!("perse-store-{:x}", rand::random::<u64>()));
        {
            let mut s = Store::open(&dir).unwrap();
            for i in 0..50 {
                s.put(&format!("usr_{i}"), d(i as f32)).unwrap();
            }
        }
        let file = dir.join(FILE_NAME);
        let good = std::fs::read(&file).unwrap();
        let mut damages: Vec<(&str, Vec<u8>)> = vec![
            ("truncated to half", good[..good.len() / 2].to_vec()),
            ("truncated to 100 bytes", good[..100].to_vec()),
            (
                "not a store",
                b"hello, this is a text file and not a database at all".repeat(100),
            ),
        ];
        for at in [0usize, 512, 4096, good.len() / 3, good.len() / 2] {
            let mut b = good.clone();
            let end = (at + 2048).min(b.len());
            b[at..end].iter_mut().for_each(|x| *x = 0xA5);
            damages.push(("overwritten", b));
        }
        let mut refused = 0;
        for (what, bytes) in damages {
            std::fs::write(&file, &bytes).unwrap();
            match Store::open(&dir) {
                Err(e) => {
                    refused += 1;
                    assert!(
                        e.contains("is damaged") && e.contains(FILE_NAME) && e.contains("move it aside"),
                        "{what}: {e}"
                    );
                    assert_eq!(std::fs::read(&file).unwrap(), bytes, "{what}: the file was modified");
                }
                // Some overwrites land on free pages: the store then opens with every user.
                Ok(s) => assert_eq!(s.list().len(), 50, "{what}: opened with users missing"),
            }
        }
        assert!(refused >= 3, "only {refused} damaged files were refused");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
