//! The connection thread of a [`PgStore`](super::PgStore): a thread of its own owns the
//! connection (the synchronous `postgres` client, which runs its own current-thread tokio
//! runtime), and every operation is sent to it as a job over a channel. The store's callers
//! may be tokio runtime threads (the runner) or plain threads (the store writer): they only
//! ever block on a channel, so no runtime is ever started inside another.
//!
//! A connection found closed (the server restarted, the network dropped) is opened again
//! before the next job; a transaction spanning two jobs checks it is still on the same
//! connection ([`Session::generation`]).

use std::sync::Arc;
use std::sync::mpsc::{Sender, channel, sync_channel};
use std::thread::JoinHandle;

use postgres::Client;

use super::connect::PgTarget;
use crate::store::{Result, StoreError};

/// A job for the connection thread.
type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// What a job gets: the connection (opened on demand) and where it goes.
pub(super) struct Session {
    target: Arc<PgTarget>,
    client: Option<Client>,
    generation: u64,
}

impl Session {
    /// The open connection, opened again first if it was closed.
    ///
    /// # Errors
    /// The server cannot be reached or refused the connection.
    pub fn client(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            let client = self.target.connect()?;
            self.generation += 1;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| self.target.failure("connecting", "no connection"))
    }

    /// The connection of `generation` if it is still open: the second half of a transaction
    /// must not continue on a new connection (its first half was rolled back with the old one).
    ///
    /// # Errors
    /// The connection was lost since.
    pub fn same_client(&mut self, generation: u64) -> Result<&mut Client> {
        match self.client.as_mut() {
            Some(c) if self.generation == generation && !c.is_closed() => Ok(c),
            _ => Err(self.target.failure(
                "finishing a transaction",
                "the connection was lost during the transaction; nothing of it was committed",
            )),
        }
    }

    /// Runs `f` on the connection (opened first if needed), mapping its errors: a client
    /// error to [`StoreError::Postgres`] saying `what` was being done.
    ///
    /// # Errors
    /// What `f` failed with, or the connection could not be opened.
    pub fn run<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Client) -> Result<R, Step>,
    ) -> Result<R> {
        let target = Arc::clone(&self.target);
        let client = self.client()?;
        f(client).map_err(|e| e.into_store(&target, what))
    }

    /// Like [`Session::run`], on the connection of `generation` only (see
    /// [`Session::same_client`]).
    ///
    /// # Errors
    /// What `f` failed with, or the connection was lost since.
    pub fn run_same<R>(
        &mut self,
        generation: u64,
        what: &str,
        f: impl FnOnce(&mut Client) -> Result<R, Step>,
    ) -> Result<R> {
        let target = Arc::clone(&self.target);
        let client = self.same_client(generation)?;
        f(client).map_err(|e| e.into_store(&target, what))
    }

    /// Rolls back the transaction open on the connection, if any (best effort: a lost
    /// connection's transaction was rolled back by the server).
    pub fn rollback(&mut self) {
        if let Some(client) = self.client.as_mut().filter(|c| !c.is_closed()) {
            let _ = client.batch_execute("ROLLBACK");
        }
    }

    /// The number of the connection now open (increases on each reconnect).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Where the store is.
    pub fn target(&self) -> &PgTarget {
        &self.target
    }
}

/// The handle to a connection thread; dropping it closes the connection and ends the thread.
pub(super) struct Conn {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    target: Arc<PgTarget>,
}

impl Conn {
    /// Starts the thread and connects.
    ///
    /// # Errors
    /// The thread could not be started, or the connection failed.
    pub fn open(target: Arc<PgTarget>) -> Result<Self> {
        let (jobs, incoming) = channel::<Job>();
        let mut session = Session {
            target: Arc::clone(&target),
            client: None,
            generation: 0,
        };
        let thread = std::thread::Builder::new()
            .name("store-postgres".into())
            .spawn(move || {
                while let Ok(job) = incoming.recv() {
                    job(&mut session);
                }
            })
            .map_err(|e| target.failure("starting the connection thread", &e.to_string()))?;
        let conn = Self {
            jobs: Some(jobs),
            thread: Some(thread),
            target,
        };
        conn.call(|s| s.client().map(drop))?;
        Ok(conn)
    }

    /// Runs `job` on the connection thread and waits for its answer.
    ///
    /// # Errors
    /// What `job` returned, or the thread is gone (it panicked).
    pub fn call<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Session) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let (reply, answer) = sync_channel(1);
        let gone = || {
            self.target
                .failure("talking to the connection thread", "the thread stopped")
        };
        let jobs = self.jobs.as_ref().ok_or_else(gone)?;
        jobs.send(Box::new(move |s: &mut Session| {
            let _ = reply.send(job(s));
        }))
        .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Where the store is.
    pub fn target(&self) -> &Arc<PgTarget> {
        &self.target
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The error of one step of a job: the client's, or a store error as it is.
#[derive(Debug)]
pub(super) enum Step {
    /// The client failed.
    Pg(postgres::Error),
    /// The store refused (fencing, leases) or a stored value is unreadable.
    Store(StoreError),
}

impl From<postgres::Error> for Step {
    fn from(e: postgres::Error) -> Self {
        Step::Pg(e)
    }
}

impl From<StoreError> for Step {
    fn from(e: StoreError) -> Self {
        Step::Store(e)
    }
}

impl Step {
    fn into_store(self, target: &PgTarget, what: &str) -> StoreError {
        match self {
            Step::Pg(e) => pg(target, what)(e),
            Step::Store(e) => e,
        }
    }
}

/// Maps a client error to [`StoreError::Postgres`]: what was being done, and the server's
/// SQLSTATE and message (never the statement's values or the error's detail, which may hold
/// them).
pub(super) fn pg(target: &PgTarget, what: &str) -> impl FnOnce(postgres::Error) -> StoreError {
    let location = target.location().to_owned();
    let what = what.to_owned();
    move |e| {
        let (code, message) = match e.as_db_error() {
            Some(db) => (Some(db.code().code().to_owned()), db.message().to_owned()),
            None => (None, e.to_string()),
        };
        StoreError::Postgres {
            location,
            what,
            code,
            message,
        }
    }
}

impl StoreError {
    /// The SQLSTATE of a PostgreSQL failure.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            StoreError::Postgres { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}
