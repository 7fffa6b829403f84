//! What the command-line tools print when something goes wrong: one line, never a backtrace
//! unless asked for (`RUST_BACKTRACE=1`).
//!
//! * [`one_line_panics`] replaces the panic message (thread name, location, "note: run with
//!   `RUST_BACKTRACE=1`") by one line naming the command and its arguments; with `RUST_BACKTRACE`
//!   set, the standard message and backtrace are printed instead.
//! * [`without_cpp_backtrace`] cuts the C++ stack (`Exception raised from …`, `frame #0: …`) that
//!   libtorch appends to its error messages.

/// Whether the user asked for backtraces (`RUST_BACKTRACE` set and not `0`).
pub fn backtraces_wanted() -> bool {
    std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0")
}

/// Installs a panic hook that prints `error: internal error in `<command line>`: <message> (at
/// file:line) …` as one line (the panic message itself cut by [`without_cpp_backtrace`]).
pub fn one_line_panics() {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let standard = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if backtraces_wanted() {
            standard(info);
            return;
        }
        let payload = info.payload();
        let message = payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str)).unwrap_or("(no message)");
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!(
            "error: internal error in `{command}`: {}{at}. This is a bug: please report it with the command above (RUST_BACKTRACE=1 shows the backtrace)",
            one_line(&without_cpp_backtrace(message))
        );
    }));
}

/// `message` without the C++ stack trace libtorch appends (everything from `Exception raised
/// from` or the first `frame #` line on), unless backtraces are wanted.
pub fn without_cpp_backtrace(message: &str) -> String {
    if backtraces_wanted() {
        return message.to_string();
    }
    let cut = ["Exception raised from", "frame #0"].iter().filter_map(|m| message.find(m)).min().unwrap_or(message.len());
    message[..cut].trim_end().to_string()
}

/// Joins the lines of `text` into one.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpp_stack_is_cut_and_the_message_kept() {
        let torch = "Torch(\"Expected all tensors to be on the same device\nException raised from check at /pytorch/x.cpp:12 (most recent call first):\nframe #0: c10::Error::Error() + 0x1\nframe #1: at::foo()\")";
        if !backtraces_wanted() {
            assert_eq!(without_cpp_backtrace(torch), "Torch(\"Expected all tensors to be on the same device");
        }
        assert_eq!(without_cpp_backtrace("plain message"), "plain message");
        assert_eq!(one_line("a\n  b\n\nc"), "a b c");
    }
}
