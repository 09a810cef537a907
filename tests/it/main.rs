//! The integration tests: one binary, one module per area.

mod catalog;
mod cli;
mod common;
mod crash;
mod desktop;
mod encrypt;
mod engine;
mod exclude;
mod health;
mod history;
mod keychain;
mod limits;
mod pause;
mod remote;
mod resume;
mod space;
mod store;
mod ui;
mod ui_assets;
mod ui_encrypt;
mod ui_providers;
mod ui_trust;
mod ui_watch;
mod watch;
