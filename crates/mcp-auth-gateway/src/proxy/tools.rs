//! The upstream's tool definitions, as last listed: rmcp asks `get_tool` synchronously to check
//! 2026-07-28 `Mcp-Param-*` headers against a tool's input schema, and a proxy can only answer
//! from what the upstream has told it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use rmcp::model::Tool;

/// Most tool definitions kept per instance (a page of an upstream's list is far smaller).
const MAX_TOOLS: usize = 4096;

#[derive(Default)]
pub(crate) struct ToolCache {
    tools: Mutex<HashMap<Arc<str>, Tool>>,
}

impl ToolCache {
    /// Records the tools of a `tools/list` page (pages add up; the table is bounded).
    pub(crate) fn remember(&self, tools: &[Tool]) {
        let mut cache = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        for tool in tools {
            if cache.len() >= MAX_TOOLS && !cache.contains_key(&*tool.name) {
                continue;
            }
            cache.insert(Arc::from(&*tool.name), tool.clone());
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<Tool> {
        self.tools.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }
}
