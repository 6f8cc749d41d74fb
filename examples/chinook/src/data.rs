//! The embedded Chinook sample database (MIT licence, see `data/LICENSE.md`): fresh SQLite copies
//! on disk and the MariaDB/MySQL load script retargeted at a database of the caller's choosing.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The shipped Chinook 1.4.5 SQLite database. Never written to: callers get copies.
pub const CHINOOK_SQLITE: &[u8] = include_bytes!("../data/Chinook_Sqlite.sqlite");

/// The shipped Chinook 1.4.5 MariaDB/MySQL script (drops, creates and fills database `Chinook`).
pub const CHINOOK_MYSQL_SQL: &str = include_str!("../data/Chinook_MySql.sql");

/// File name used by [`write_chinook_sqlite`].
pub const CHINOOK_SQLITE_FILE: &str = "chinook.sqlite";

/// Writes a fresh copy of the embedded Chinook SQLite database to `dir/chinook.sqlite`
/// (creating `dir` if needed, replacing any file already there) and returns its path.
///
/// Errors: the directory cannot be created or the file cannot be written.
pub fn write_chinook_sqlite(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(CHINOOK_SQLITE_FILE);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.clone().into_os_string();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            std::fs::remove_file(&side).with_context(|| format!("removing {}", side.display()))?;
        }
    }
    std::fs::write(&path, CHINOOK_SQLITE).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Returns the Chinook MariaDB/MySQL script rewritten to create and fill database `database`
/// instead of `Chinook` (its `DROP DATABASE`, `CREATE DATABASE` and `USE` lines are replaced).
///
/// Errors: `database` is empty, longer than 64 characters or not made of ASCII letters, digits
/// and `_` (it is spliced into SQL).
pub fn chinook_mysql_script(database: &str) -> anyhow::Result<String> {
    let valid = !database.is_empty()
        && database.len() <= 64
        && database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        bail!("invalid database name {database:?}: use 1-64 ASCII letters, digits or _");
    }
    let mut out = String::with_capacity(CHINOOK_MYSQL_SQL.len() + 64);
    let mut replaced = 0;
    for line in CHINOOK_MYSQL_SQL.lines() {
        let rewritten = match line.trim() {
            "DROP DATABASE IF EXISTS `Chinook`;" => {
                Some(format!("DROP DATABASE IF EXISTS `{database}`;"))
            }
            "CREATE DATABASE `Chinook`;" => Some(format!("CREATE DATABASE `{database}`;")),
            "USE `Chinook`;" => Some(format!("USE `{database}`;")),
            _ => None,
        };
        match rewritten {
            Some(text) => {
                replaced += 1;
                out.push_str(&text);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    if replaced != 3 {
        bail!("the embedded Chinook MySQL script has an unexpected shape ({replaced} of 3 lines)");
    }
    Ok(out)
}
