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

use redb::{Database, ReadableTable, TableDefinition};

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
    pub fn open(dir: &Path) -> Result<Store, String> {
        let path: PathBuf = dir.join(FILE_NAME);
        let fail = |what: &str, e: &dyn std::fmt::Display| format!("cannot {what} {}: {e}", path.display());
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", &e))?;
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => format!(
                "{} is in use by another local server (one server per data directory)",
                path.display()
            ),
            e => fail("open", &e),
        })?;
        let mut store = Store::default();
        let tx = db.begin_write().map_err(|e| fail("read", &e))?;
        {
            let table = tx.open_table(USERS).map_err(|e| fail("read", &e))?;
            for row in table.iter().map_err(|e| fail("read", &e))? {
                let (k, v) = row.map_err(|e| fail("read", &e))?;
                let (seq, d) = decode(v.value()).ok_or_else(|| fail("read", &"a damaged record"))?;
                store.next_seq = store.next_seq.max(seq + 1);
                store.users.insert(k.value().to_string(), (seq, d));
            }
        }
        tx.commit().map_err(|e| fail("read", &e))?;
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
}
