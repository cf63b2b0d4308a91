//! Running a child process and measuring it: wall time, CPU seconds and peak RSS from
//! `wait4(2)`'s `rusage` of that one child, and the machine load around it.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one measured child did.
#[derive(Debug, Clone)]
pub struct Measured {
    /// From spawn to exit.
    pub wall: Duration,
    /// User + system CPU of the child (and its threads).
    pub cpu_s: f64,
    /// Peak resident set size, bytes.
    pub max_rss: u64,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// 1-minute load average before and after.
    pub load: (f64, f64),
}

impl Measured {
    /// Peak RSS in MiB.
    pub fn rss_mib(&self) -> f64 {
        self.max_rss as f64 / (1024.0 * 1024.0)
    }
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Runs `cmd` to completion; standard error goes to `stderr_to`.
///
/// # Errors
/// Spawning or waiting failed.
pub fn run(cmd: &mut Command, stderr_to: &Path) -> std::io::Result<Measured> {
    spawn(cmd, stderr_to)?.wait()
}

/// A child started by [`spawn`], measured when [`Running::wait`] reaps it.
pub struct Running {
    child: std::process::Child,
    pid: libc::pid_t,
    start: Instant,
    load_before: f64,
    reader: std::thread::JoinHandle<String>,
}

/// Starts `cmd`; standard error goes to `stderr_to`, standard output is collected.
///
/// # Errors
/// Spawning failed.
pub fn spawn(cmd: &mut Command, stderr_to: &Path) -> std::io::Result<Running> {
    let err = std::fs::File::create(stderr_to)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err));
    let load_before = load1();
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    let out = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut o) = out {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    Ok(Running {
        child,
        pid,
        start,
        load_before,
        reader,
    })
}

impl Running {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe { libc::kill(self.pid, signal) };
    }

    /// Waits for the child to exit and measures it.
    ///
    /// # Errors
    /// Waiting failed.
    pub fn wait(self) -> std::io::Result<Measured> {
        let pid = self.pid;
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero `rusage` is a valid value of that plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: `pid` is our own child, not yet reaped (std only reaps in `wait`, which
            // is never called on it); both pointers are to live locals.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if r == pid {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let wall = self.start.elapsed();
        drop(self.child);
        let stdout = self.reader.join().unwrap_or_default();
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        Ok(Measured {
            wall,
            cpu_s: secs(usage.ru_utime) + secs(usage.ru_stime),
            // Linux reports ru_maxrss in KiB.
            max_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
            code,
            stdout,
            load: (self.load_before, load1()),
        })
    }
}

/// A process's CPU times from `/proc/<pid>/stat`, seconds.
#[derive(Debug, Clone, Copy)]
pub struct ProcTimes {
    /// Its own user + system time.
    pub own: f64,
    /// Its reaped children's user + system time.
    pub children: f64,
}

impl ProcTimes {
    pub fn total(self) -> f64 {
        self.own + self.children
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (field 3, the state, is index 0).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count fields after its closing paren.
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// CPU times of a running process, `None` when it is gone.
pub fn proc_times(pid: u32) -> Option<ProcTimes> {
    let f = stat_fields(pid)?;
    // utime (14), stime (15), cutime (16), cstime (17) are indices 11–14.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ProcTimes {
        own: (ticks(11)? + ticks(12)?) / hz,
        children: (ticks(13)? + ticks(14)?) / hz,
    })
}

/// Whether `pid` runs (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z"))
}

/// The live children of `pid` (processes whose parent it is).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parent = pid.to_string();
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| stat_fields(p).is_some_and(|f| f.get(1) == Some(&parent)))
        .collect()
}

/// CPU seconds a running process (all its threads) used so far, from `/proc/<pid>/stat`.
pub fn proc_cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The command name (field 2) may contain spaces: count fields after its closing paren.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')' field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}
