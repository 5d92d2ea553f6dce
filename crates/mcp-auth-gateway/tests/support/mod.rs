//! Shared helpers of the gateway's process tests: running `mcp-auth serve` as a real process,
//! minting tokens for it, connecting rmcp clients, and finding its descendants through /proc.
#![allow(dead_code)] // each test binary uses its own subset

pub mod gateway;
pub mod procs;
pub mod upstream;
