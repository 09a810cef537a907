//! Breakdex keeps an asset library safely copied across storage providers.
//!
//! The library crate holds everything; the binary (`main.rs`) only parses the
//! command line. See ARCHITECTURE.md for the map.

pub mod bandwidth;
pub mod catalog;
pub mod cli;
mod cli_catalog;
mod cli_exclude;
mod cli_health;
mod cli_history;
mod cli_identity;
mod cli_limits;
mod cli_remote;
mod cli_watch;
pub mod crypto;
pub mod demo;
pub mod engine;
pub mod library;
pub mod logs;
mod priority;
pub mod providers;
pub mod secrets;
pub mod setup;
pub mod store;
pub mod ui;
pub mod units;
pub mod watch;
