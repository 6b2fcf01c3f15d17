//! The last panic's message, kept for the shim's log record of the trap.
//!
//! The bundle is built with `panic = "abort"`: a panic ends in a trap, which
//! the shim catches (503, and a fresh instance for the next request). The
//! hook installed here first writes the panic's message and place into a
//! static buffer (at most [`CAPACITY`] bytes, cut at a character boundary,
//! nothing allocated), and the shim reads it from the wasm memory
//! ([`panic_note_ptr`], [`panic_note_len`]) into its `internal_error`
//! record: one JSON line with the reason and the panic.
//!
//! In place of `console_error_panic_hook`, which printed the message and a
//! JavaScript stack of wasm function numbers as a multi-line text of its own,
//! and whose imports (an `Error` for the stack, `console.error`) cost every
//! cold start two compiled wasm-to-JS wrappers (docs/benchmarks.md, "Exports
//! that return one value, and fewer imports").

use std::fmt::{self, Display, Write};
use std::sync::Mutex;

use wasm_bindgen::prelude::*;

/// The longest note kept, in bytes.
pub const CAPACITY: usize = 512;

struct Note {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl Write for Note {
    /// Appends what fits, cut at a character boundary; drops the rest.
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut take = s.len().min(CAPACITY - self.len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

static NOTE: Mutex<Note> = Mutex::new(Note {
    bytes: [0; CAPACITY],
    len: 0,
});

/// Installs the hook (the module's start function calls this).
pub fn install() {
    std::panic::set_hook(Box::new(|info| record(info)));
}

/// Replaces the note with `what`, as far as it fits. A panic inside this
/// (while the note is locked) leaves the note unreadable: empty.
fn record(what: &dyn Display) {
    if let Ok(mut note) = NOTE.try_lock() {
        note.len = 0;
        let _ = write!(note, "{what}");
    }
}

/// Where the note starts in the wasm memory.
#[wasm_bindgen]
pub fn panic_note_ptr() -> u32 {
    NOTE.try_lock()
        .map_or(0, |note| note.bytes.as_ptr() as usize as u32)
}

/// The note's length in bytes: 0 when no panic was noted.
#[wasm_bindgen]
pub fn panic_note_len() -> u32 {
    NOTE.try_lock().map_or(0, |note| note.len as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note() -> String {
        let note = NOTE.lock().unwrap();
        String::from_utf8(note.bytes[..note.len].to_vec()).unwrap()
    }

    // One test: the note and the hook are process-wide.
    #[test]
    fn a_panic_is_noted_whole_or_cut_at_a_character_boundary() {
        assert_eq!(panic_note_len(), 0);
        install();
        let caught = std::panic::catch_unwind(|| panic!("token cache entry {} missing", 7));
        assert!(caught.is_err());
        let noted = note();
        assert!(noted.contains("token cache entry 7 missing"), "{noted}");
        assert!(noted.contains("panic_note.rs"), "{noted}");
        assert_eq!(panic_note_len() as usize, noted.len());
        // The pointer is the note's own bytes (cut to 32 bits natively, as
        // the export is).
        let bytes_at = NOTE.lock().unwrap().bytes.as_ptr() as usize as u32;
        assert_eq!(panic_note_ptr(), bytes_at);
        let _ = std::panic::take_hook();

        // Too long: cut to CAPACITY bytes or fewer, never inside a character.
        let long = format!("{}é", "x".repeat(CAPACITY - 1));
        record(&long);
        assert_eq!(note(), "x".repeat(CAPACITY - 1));
        record(&"short");
        assert_eq!(note(), "short");

        // Written in pieces: the second gets only the room the first left.
        record(&format_args!("{}{}", "a".repeat(500), "b".repeat(100)));
        assert_eq!(
            note(),
            format!("{}{}", "a".repeat(500), "b".repeat(CAPACITY - 500))
        );
    }
}
