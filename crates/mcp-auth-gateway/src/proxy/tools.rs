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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmcp::model::{JsonObject, Tool};

    use super::{MAX_TOOLS, ToolCache};

    fn tool(name: String) -> Tool {
        Tool::new(name, "a tool", Arc::new(JsonObject::new()))
    }

    #[test]
    fn an_upstream_listing_endless_tools_fills_the_cache_only_up_to_its_bound() {
        let cache = ToolCache::default();
        let page: Vec<Tool> = (0..MAX_TOOLS + 100).map(|i| tool(format!("t{i}"))).collect();
        cache.remember(&page);
        assert_eq!(cache.tools.lock().unwrap().len(), MAX_TOOLS);
        assert!(cache.get("t0").is_some() && cache.get(&format!("t{MAX_TOOLS}")).is_none());
        // A tool already known is still updated at the bound.
        let updated = Tool::new("t0", "updated", Arc::new(JsonObject::new()));
        cache.remember(&[updated]);
        assert_eq!(cache.get("t0").unwrap().description.as_deref(), Some("updated"));
    }
}
