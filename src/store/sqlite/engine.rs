//! How the SQLite engine runs statements: reads on the caller's thread with a connection
//! from a small pool, writes on one writer thread that commits every write waiting in its
//! queue in one transaction (group commit), each write in its own savepoint.
//!
//! A pooled reader keeps its read transaction open from one read to the next until this
//! process commits again: beginning and ending a read transaction (SQLite's WAL read lock,
//! two `fcntl` calls, and the WAL index header) cost a point read more than its query did.
//! After each checkpoint every reader takes a new snapshot too: a snapshot taken before it
//! holds a WAL read mark that keeps the writer from starting the WAL over, which then grows
//! without bound.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags, Row, Statement, ffi};
use tokio::sync::oneshot;

use crate::domain::{Cursor, Page, Paged};
use crate::store::{SNAPSHOT_MAX_AGE, SearchSql, StoreError, StoreResult, SyncMode, finish_page};

/// Writes committed together at most: a group stays a short transaction under a flood.
const MAX_GROUP: usize = 512;

/// Prepared statements kept per connection (search queries vary with their filters).
const STATEMENT_CACHE: usize = 128;

/// The checkpointer copies the WAL into the database at most this often while writes go on.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// WAL pages after which the writer checkpoints by itself: a backstop for a checkpointer that
/// cannot keep up (SQLite's default is 1,000 pages, checkpointed on the writer's thread).
const WRITER_CHECKPOINT_PAGES: u32 = 16_000;

/// What a write did: `Undo` rolls its own savepoint back and answers the value all the same
/// (a guard that found the row changed after part of the write ran).
pub(super) enum Outcome<R> {
    Keep(R),
    Undo(R),
}

/// The connections: readers pooled, the writer and the checkpointer on their threads.
pub(super) struct Engine {
    readers: Arc<Readers>,
    jobs: Option<mpsc::Sender<Box<dyn WriteJob>>>,
    thread: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
}

impl Engine {
    pub(super) fn start(path: &Path, sync: SyncMode) -> StoreResult<Self> {
        let writer = connect(path)?;
        // WAL: readers never wait for the writer (the migrations set it too; it persists).
        writer.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        let synchronous = match sync {
            SyncMode::Normal => "NORMAL",
            SyncMode::Full => "FULL",
        };
        writer.pragma_update(None, "synchronous", synchronous)?;
        // Savepoints journal the pages they change; in memory, not in a temporary file.
        writer.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoints run on their own thread (they took an eighth of the server's CPU on
        // the writer's thread under a stream of creates); the writer keeps a backstop.
        writer.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        let checkpointing = connect(path)?;
        checkpointing.pragma_update(None, "synchronous", synchronous)?;
        let readers = Arc::new(Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![Reader {
                conn: connect(path)?,
                snapshot: None,
            }]),
            epoch: AtomicU64::new(0),
        });
        let (committed, commits) = mpsc::sync_channel::<()>(1);
        let swept = Arc::clone(&readers);
        let checkpointer = spawn("sqlite-checkpoint", move || {
            checkpoint_loop(&checkpointing, &commits, &swept)
        })?;
        let (tx, rx) = mpsc::channel::<Box<dyn WriteJob>>();
        let counted = Arc::clone(&readers);
        let thread = spawn("sqlite-writer", move || {
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                commit_group(&writer, group, &counted);
                // A signal already waiting covers this commit too.
                let _ = committed.try_send(());
            }
        })?;
        Ok(Engine {
            readers,
            jobs: Some(tx),
            thread: Some(thread),
            checkpointer: Some(checkpointer),
        })
    }

    /// Runs `f` on this thread with a pooled reading connection: a point read from the
    /// page cache costs less than a hand-off to another thread would.
    pub(super) fn read<R>(&self, f: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
        self.readers.read(f, false)
    }

    /// [`Engine::read`] in a new read transaction, for what decides who may do what and
    /// other processes write (accounts, keys, credentials, bucket owners): seen as soon as
    /// their commit returned.
    pub(super) fn read_fresh<R>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<R>,
    ) -> StoreResult<R> {
        self.readers.read(f, true)
    }

    /// A read that may scan many rows or load megabytes (searches) runs on tokio's blocking
    /// pool instead, so that the runtime's workers keep serving (and streaming answers).
    pub(super) async fn read_apart<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    ) -> StoreResult<R> {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.read(f, false))
            .await
            .map_err(|e| {
                StoreError::from(failure(ffi::SQLITE_ABORT, format!("a read failed: {e}")))
            })?
    }

    /// Runs `f` on the writer in the next group's transaction; answers after its COMMIT.
    pub(super) async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    ) -> StoreResult<R> {
        self.write_or_undo(move |c| f(c).map(Outcome::Keep)).await
    }

    /// [`Engine::write`] for a write that may roll itself back ([`Outcome::Undo`]).
    pub(super) async fn write_or_undo<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<Outcome<R>> + Send + 'static,
    ) -> StoreResult<R> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            f: Some(f),
            result: None,
            reply,
        });
        let jobs = self.jobs.as_ref().ok_or_else(writer_stopped)?;
        jobs.send(job).map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }
}

/// Reading connections, taken and put back without a thread switch.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    /// Counts this process's commits (before their callers are answered) and checkpoints: a
    /// snapshot from an older epoch is not reused.
    epoch: AtomicU64,
}

/// A reading connection and its open read transaction, if any.
struct Reader {
    conn: Connection,
    /// The epoch read before the transaction began, and when it began.
    snapshot: Option<(u64, Instant)>,
}

impl Readers {
    /// A new connection when all are taken: their number is bounded by the threads that
    /// read at once. The reader's open transaction is reused unless `fresh`, the epoch
    /// moved since it began, or it is older than [`SNAPSHOT_MAX_AGE`].
    fn read<R>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<R>,
        fresh: bool,
    ) -> StoreResult<R> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut reader = match pooled {
            Some(r) => r,
            None => Reader {
                conn: connect(&self.path)?,
                snapshot: None,
            },
        };
        // Read before the snapshot is taken: a commit in between only makes the next read
        // take a new one.
        let epoch = self.epoch.load(Ordering::Acquire);
        let current = matches!(reader.snapshot,
            Some((n, began)) if !fresh && n == epoch && began.elapsed() < SNAPSHOT_MAX_AGE);
        let out = if current {
            f(&reader.conn)
        } else {
            reader.end();
            match reader.conn.execute_batch("BEGIN") {
                Ok(()) => {
                    reader.snapshot = Some((epoch, Instant::now()));
                    f(&reader.conn)
                }
                Err(e) => Err(e.into()),
            }
        };
        if out.is_err() {
            reader.end();
        }
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(reader);
        out
    }

    /// Ends the idle readers' snapshots from an older epoch, so that they hold no WAL read
    /// marks that keep a checkpoint from copying frames back or the writer from starting
    /// the WAL over.
    fn end_stale(&self) {
        let epoch = self.epoch.load(Ordering::Acquire);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        for reader in idle.iter_mut() {
            if reader.snapshot.is_some_and(|(n, _)| n != epoch) {
                reader.end();
            }
        }
    }
}

impl Reader {
    /// Ends the open read transaction, if any.
    fn end(&mut self) {
        if self.snapshot.take().is_some() || !self.conn.is_autocommit() {
            // A read transaction has nothing to keep: ROLLBACK ends it whatever happened.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Drop for Engine {
    /// The writer finishes the writes queued before the store was dropped, then closes; the
    /// checkpointer, told by the writer's end, checkpoints once more and closes.
    fn drop(&mut self) {
        self.jobs = None;
        for thread in [self.thread.take(), self.checkpointer.take()]
            .into_iter()
            .flatten()
        {
            let _ = thread.join();
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> StoreResult<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| StoreError::Config(format!("cannot start the thread {name}: {e}")))
}

/// Copies committed WAL pages into the database after commits, at most every
/// [`CHECKPOINT_EVERY`], without blocking readers or the writer (`PASSIVE`). A failed
/// checkpoint is retried after the next commit; the WAL keeps every page meanwhile.
fn checkpoint_loop(c: &Connection, commits: &mpsc::Receiver<()>, readers: &Readers) {
    let checkpoint = || {
        readers.end_stale();
        if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "SQLite checkpoint failed; retried after the next write");
        }
        // Readers that begin now, on a WAL copied back in full, read the database file
        // alone (read mark 0), which lets the writer's next commit start the WAL over.
        readers.epoch.fetch_add(1, Ordering::Release);
        readers.end_stale();
    };
    while commits.recv().is_ok() {
        let started = std::time::Instant::now();
        checkpoint();
        std::thread::sleep(CHECKPOINT_EVERY.saturating_sub(started.elapsed()));
    }
    checkpoint();
}

fn writer_stopped() -> StoreError {
    StoreError::from(failure(
        ffi::SQLITE_MISUSE,
        "the SQLite writer thread stopped".into(),
    ))
}

fn failure(code: i32, message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(message))
}

/// One connection with the store's settings.
fn connect(path: &Path) -> StoreResult<Connection> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(Duration::from_secs(10))?;
    c.pragma_update(None, "foreign_keys", true)?;
    // After a checkpoint, a WAL that grew under a burst is cut back to 64 MiB.
    c.pragma_update(None, "journal_size_limit", 67_108_864)?;
    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(c)
}

/// A queued write: run in the group's transaction, answered after it ends.
trait WriteJob: Send {
    fn run(&mut self, c: &Connection);
    /// A write that failed answers its own error; one that succeeded answers the COMMIT's.
    fn answer(self: Box<Self>, committed: Result<(), &rusqlite::Error>);
}

struct Pending<F, R> {
    f: Option<F>,
    result: Option<StoreResult<R>>,
    reply: oneshot::Sender<StoreResult<R>>,
}

impl<F, R> WriteJob for Pending<F, R>
where
    F: FnOnce(&Connection) -> StoreResult<Outcome<R>> + Send,
    R: Send,
{
    fn run(&mut self, c: &Connection) {
        if let Some(f) = self.f.take() {
            self.result = Some(in_savepoint(c, f));
        }
    }

    fn answer(self: Box<Self>, committed: Result<(), &rusqlite::Error>) {
        let result = match (self.result, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(r)), Ok(())) => Ok(r),
            (_, Err(e)) => Err(StoreError::from(copy_error(e))),
            (None, Ok(())) => Err(writer_stopped()),
        };
        // A caller that went away meanwhile needs no answer.
        let _ = self.reply.send(result);
    }
}

fn in_savepoint<R>(
    c: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<Outcome<R>>,
) -> StoreResult<R> {
    execute(c, "SAVEPOINT write", &[])?;
    let result = f(c);
    let undo = !matches!(result, Ok(Outcome::Keep(_)));
    if undo {
        execute(c, "ROLLBACK TO write", &[])?;
    }
    execute(c, "RELEASE write", &[])?;
    result.map(|(Outcome::Keep(r) | Outcome::Undo(r))| r)
}

/// `BEGIN IMMEDIATE`, every write in its savepoint, `COMMIT`, then the answers; the commit
/// moves the readers' epoch before anyone is answered, so that no read after an answer uses
/// an older snapshot.
fn commit_group(c: &Connection, group: Vec<Box<dyn WriteJob>>, readers: &Readers) {
    // Idle snapshots from before the last commit or checkpoint would keep this transaction
    // from starting a fully checkpointed WAL over.
    readers.end_stale();
    let mut ran: Vec<Box<dyn WriteJob>> = Vec::with_capacity(group.len());
    let mut began = execute(c, "BEGIN IMMEDIATE", &[]).map(drop);
    for mut job in group {
        if let Err(e) = &began {
            job.answer(Err(e));
            continue;
        }
        job.run(c);
        if c.is_autocommit() {
            // SQLite rolled the whole transaction back (disk full, I/O error): the writes
            // before this one are gone too. The rest of the group starts a new one.
            let lost = failure(
                ffi::SQLITE_ABORT,
                "the write transaction was rolled back".into(),
            );
            for done in ran.drain(..) {
                done.answer(Err(&lost));
            }
            job.answer(Err(&lost));
            began = execute(c, "BEGIN IMMEDIATE", &[]).map(drop);
        } else {
            ran.push(job);
        }
    }
    if began.is_err() {
        return;
    }
    let committed = execute(c, "COMMIT", &[]).map(drop);
    // Counted even when the COMMIT failed: what it may have left is for reads to see afresh.
    readers.epoch.fetch_add(1, Ordering::Release);
    if committed.is_err() && !c.is_autocommit() {
        // Nothing of the group may stay half-written for the next one.
        let _ = c.execute_batch("ROLLBACK");
    }
    for job in ran {
        job.answer(committed.as_ref().map(|_| ()));
    }
}

/// rusqlite errors are not `Clone`; each write of a failed group gets its own copy.
fn copy_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => failure(ffi::SQLITE_ERROR, other.to_string()),
    }
}

/// Binds `values[n - 1]` to each `$n` of the statement: SQLite numbers named parameters in
/// order of first appearance, and shared SQL such as `SET a = $3 … WHERE k = $1` does not
/// follow that order.
fn bind(stmt: &mut Statement<'_>, values: &[&dyn ToSql]) -> rusqlite::Result<()> {
    let count = stmt.parameter_count();
    for index in 1..=count {
        let name = stmt.parameter_name(index).unwrap_or("?");
        let value = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| values.get(n.checked_sub(1)?));
        let Some(value) = value else {
            return Err(rusqlite::Error::InvalidParameterName(name.to_string()));
        };
        stmt.raw_bind_parameter(index, value)?;
    }
    if values.len() != count {
        return Err(rusqlite::Error::InvalidParameterCount(values.len(), count));
    }
    Ok(())
}

/// Runs a statement that returns no rows; answers the rows it changed.
pub(super) fn execute(c: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    let mut stmt = c.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    stmt.raw_execute()
}

/// The rows a query returns, each through `map`.
pub(super) fn query_all<T>(
    c: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The first row a query returns, if any.
pub(super) fn query_opt<T>(
    c: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    match rows.next()? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// The single value of a one-row query (`COUNT(*)`, `MAX(…)`).
pub(super) fn query_value<T: rusqlite::types::FromSql>(
    c: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> rusqlite::Result<T> {
    query_opt(c, sql, values, |r| r.get(0))?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Runs a [`SearchSql`]: the count when it has one, and the page.
pub(super) fn fetch_paged<R, T>(
    c: &Connection,
    sql: &SearchSql,
    page: &Page,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<R>,
    cursor: impl Fn(&T) -> Cursor,
) -> StoreResult<Paged<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    let binds: Vec<&dyn ToSql> = sql.binds.iter().map(|b| b as &dyn ToSql).collect();
    let total = match &sql.count {
        Some(count_sql) => {
            let n: i64 = query_value(c, count_sql, &binds[..sql.count_binds])?;
            Some(n as u64)
        }
        None => None,
    };
    let rows = query_all(c, &sql.page, &binds, map)?;
    finish_page(rows, page, total, cursor)
}

/// The account ID followed by `ids`, for `… account_id = $1 AND … IN ($2, …)`.
pub(super) fn account_and<'a>(account_id: &'a dyn ToSql, ids: &'a [String]) -> Vec<&'a dyn ToSql> {
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(ids.len() + 1);
    values.push(account_id);
    values.extend(ids.iter().map(|id| id as &dyn ToSql));
    values
}

/// Maps a unique-key violation to `Conflict`, as the sqlx backends' `conflict` does.
pub(super) fn conflict(e: rusqlite::Error, what: &str) -> StoreError {
    let unique = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    );
    if unique {
        StoreError::Conflict(what.to_string())
    } else {
        StoreError::from(e)
    }
}
