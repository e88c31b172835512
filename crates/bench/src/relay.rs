//! The floor of a stdio relay: a process that starts a server as its child and passes every
//! line from its stdin to the child's and every line from the child's stdout to its own, with
//! nothing in between — one thread per direction, blocking reads and writes, no parsing. Any
//! process that stands between a client and a stdio server (a gateway included) pays at least
//! what this one does: two wake-ups, two reads and two writes per request and response.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};

/// Relays stdin/stdout to `command` (program and arguments) until either side closes.
pub(crate) fn run(command: &[String]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("relay: no command to start");
        return ExitCode::FAILURE;
    };
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            eprintln!("relay: cannot start {program}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (Some(to_child), Some(from_child)) = (child.stdin.take(), child.stdout.take()) else {
        return ExitCode::FAILURE;
    };
    std::thread::spawn(move || copy_lines(std::io::stdin().lock(), to_child));
    let _ = copy_lines(BufReader::new(from_child), std::io::stdout().lock());
    let _ = child.kill();
    ExitCode::SUCCESS
}

/// Copies `input` to `output` a line at a time, each line written as soon as it is complete.
fn copy_lines(mut input: impl BufRead, mut output: impl Write) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(8192);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        output.write_all(&line)?;
        output.flush()?;
    }
}
