//! Text of the command line: the subcommands whose work and output live in
//! the library (`keys rotate`, `keys list`). Domain modules answer with data;
//! turning it into what the terminal shows happens here.

pub mod keys;
