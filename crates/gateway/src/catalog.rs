//! The catalog: every upstream's tools, prompts and resources under collision-free exposed
//! names. A tool is exposed as `<server>__<tool>` (or under its own name when the server has
//! `prefix = false`, automatic when there is only one server); every exposed name must match
//! `^[a-zA-Z0-9_-]{1,64}$`. Two owners of one name is an error at start and is never resolved by
//! overwriting. Order is deterministic: by exposed name.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};

use crate::error::GatewayError;
use crate::upstream::Listing;

/// The separator between server and tool in an exposed name.
pub const SEPARATOR: &str = "__";

/// One exposed tool.
#[derive(Debug, Clone)]
pub struct CatalogTool {
    /// The name clients see and call.
    pub exposed: String,
    /// The upstream server that owns it.
    pub server: String,
    /// Its name on the upstream.
    pub upstream_name: String,
    /// Its definition, renamed to `exposed`.
    pub tool: Tool,
}

impl CatalogTool {
    /// Whether the tool's annotations say it is destructive (`destructiveHint: true` and not
    /// `readOnlyHint: true`). Tools without annotations are not treated as destructive; mark them
    /// with `approval = "required"` in `[tools]` when they are.
    pub fn is_destructive(&self) -> bool {
        self.tool
            .annotations
            .as_ref()
            .is_some_and(|a| a.destructive_hint == Some(true) && a.read_only_hint != Some(true))
    }
}

/// One exposed prompt.
#[derive(Debug, Clone)]
pub struct CatalogPrompt {
    /// The server that owns it.
    pub server: String,
    /// Its name on the upstream.
    pub upstream_name: String,
    /// Its definition, renamed.
    pub prompt: Prompt,
    /// Whether the server offers it only to 2026-07-28 clients.
    pub modern_only: bool,
}

/// What goes into building a catalog: one entry per upstream, in any order.
pub(crate) struct Source<'a> {
    pub(crate) server: &'a str,
    pub(crate) prefix: bool,
    pub(crate) exclude: &'a [glob::Pattern],
    pub(crate) listing: Listing,
    /// Tools the pins withhold (upstream name, why), left out of the catalog.
    pub(crate) withheld: Vec<(String, String)>,
}

/// The aggregated catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    tools: BTreeMap<String, Arc<CatalogTool>>,
    prompts: BTreeMap<String, Arc<CatalogPrompt>>,
    resources: Vec<(String, Resource)>,
    resource_owner: HashMap<String, String>,
    templates: Vec<(String, ResourceTemplate)>,
    prefixed_servers: Vec<String>,
    /// Tools the pins withhold, by exposed name, with why.
    withheld: BTreeMap<String, String>,
}

/// Which of the lists a client sees changed between two catalogs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListChanges {
    /// `tools/list` changed.
    pub tools: bool,
    /// `prompts/list` changed.
    pub prompts: bool,
    /// `resources/list` or `resources/templates/list` changed.
    pub resources: bool,
}

impl ListChanges {
    /// Every list (when it is not known which changed).
    pub const ALL: Self = Self {
        tools: true,
        prompts: true,
        resources: true,
    };

    /// Whether anything changed.
    pub fn any(self) -> bool {
        self.tools || self.prompts || self.resources
    }
}

/// Whether `name` is a valid exposed tool name.
pub fn valid_exposed_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn exposed_name(server: &str, prefix: bool, name: &str) -> String {
    if prefix {
        format!("{server}{SEPARATOR}{name}")
    } else {
        name.to_owned()
    }
}

impl Catalog {
    /// Builds the catalog; the first collision or invalid name is an error.
    ///
    /// # Errors
    /// [`GatewayError::Collision`] or [`GatewayError::InvalidToolName`].
    pub(crate) fn build(sources: Vec<Source<'_>>) -> Result<Self, GatewayError> {
        let (catalog, mut errors) = Self::build_lenient(sources);
        match errors.is_empty() {
            true => Ok(catalog),
            false => Err(errors.remove(0)),
        }
    }

    /// Builds the catalog, leaving out (and reporting) whatever collides or is invalid. Used when
    /// an upstream's listing changes at run time: the existing owner of a name keeps it.
    pub(crate) fn build_lenient(mut sources: Vec<Source<'_>>) -> (Self, Vec<GatewayError>) {
        sources.sort_by(|a, b| a.server.cmp(b.server));
        let mut catalog = Self::default();
        let mut errors = Vec::new();
        for source in &sources {
            if source.prefix {
                catalog.prefixed_servers.push(source.server.to_owned());
            }
            for tool in &source.listing.tools {
                let name = tool.name.as_ref();
                if source.exclude.iter().any(|p| p.matches(name)) {
                    continue;
                }
                let exposed = exposed_name(source.server, source.prefix, name);
                if !valid_exposed_name(&exposed) {
                    errors.push(GatewayError::InvalidToolName {
                        server: source.server.to_owned(),
                        tool: name.to_owned(),
                        exposed,
                    });
                    continue;
                }
                if let Some(existing) = catalog.tools.get(&exposed) {
                    errors.push(GatewayError::Collision {
                        name: exposed,
                        first: format!("{}/{}", existing.server, existing.upstream_name),
                        second: format!("{}/{name}", source.server),
                    });
                    continue;
                }
                let mut renamed = tool.clone();
                renamed.name = exposed.clone().into();
                catalog.tools.insert(
                    exposed.clone(),
                    Arc::new(CatalogTool {
                        exposed,
                        server: source.server.to_owned(),
                        upstream_name: name.to_owned(),
                        tool: renamed,
                    }),
                );
            }
            for (name, reason) in &source.withheld {
                let exposed = exposed_name(source.server, source.prefix, name);
                catalog.withheld.insert(exposed, reason.clone());
            }
            catalog.add_prompts(source, &mut errors);
            catalog.add_resources(source);
        }
        (catalog, errors)
    }

    fn add_prompts(&mut self, source: &Source<'_>, errors: &mut Vec<GatewayError>) {
        let listing = &source.listing;
        let all = listing.prompts.iter().map(|p| (p, false));
        for (prompt, modern_only) in all.chain(listing.modern_prompts.iter().map(|p| (p, true))) {
            let exposed = exposed_name(source.server, source.prefix, &prompt.name);
            if let Some(existing) = self.prompts.get(&exposed) {
                errors.push(GatewayError::Collision {
                    name: exposed,
                    first: format!("{}/{}", existing.server, existing.upstream_name),
                    second: format!("{}/{}", source.server, prompt.name),
                });
                continue;
            }
            let mut renamed = prompt.clone();
            renamed.name = exposed.clone();
            self.prompts.insert(
                exposed,
                Arc::new(CatalogPrompt {
                    server: source.server.to_owned(),
                    upstream_name: prompt.name.clone(),
                    prompt: renamed,
                    modern_only,
                }),
            );
        }
    }

    fn add_resources(&mut self, source: &Source<'_>) {
        for resource in &source.listing.resources {
            if let Some(owner) = self.resource_owner.get(&resource.uri) {
                tracing::warn!(
                    uri = %resource.uri, first = %owner, second = %source.server,
                    "two servers list the same resource URI; the first keeps it"
                );
                continue;
            }
            self.resource_owner
                .insert(resource.uri.clone(), source.server.to_owned());
            self.resources
                .push((source.server.to_owned(), resource.clone()));
        }
        for template in &source.listing.templates {
            self.templates
                .push((source.server.to_owned(), template.clone()));
        }
    }

    /// What changed from `before` to this catalog.
    pub fn changes_from(&self, before: &Catalog) -> ListChanges {
        fn tools(c: &Catalog) -> impl Iterator<Item = (&String, &rmcp::model::Tool)> {
            c.tools.iter().map(|(name, t)| (name, &t.tool))
        }
        fn prompts(c: &Catalog) -> impl Iterator<Item = (&String, &rmcp::model::Prompt)> {
            c.prompts.iter().map(|(name, p)| (name, &p.prompt))
        }
        ListChanges {
            tools: !tools(self).eq(tools(before)),
            prompts: !prompts(self).eq(prompts(before)),
            resources: self.resources != before.resources || self.templates != before.templates,
        }
    }

    /// The tool exposed as `name`.
    pub fn tool(&self, name: &str) -> Option<Arc<CatalogTool>> {
        self.tools.get(name).cloned()
    }

    /// Why the tool exposed as `name` is withheld by its pin, if it is.
    pub fn withheld(&self, name: &str) -> Option<&str> {
        self.withheld.get(name).map(String::as_str)
    }

    /// Every tool, in exposed-name order.
    pub fn tools(&self) -> impl Iterator<Item = &Arc<CatalogTool>> {
        self.tools.values()
    }

    /// The server a name would belong to by its prefix (for answering calls to an upstream that
    /// is down and whose tools are not known).
    pub fn server_by_prefix(&self, name: &str) -> Option<&str> {
        let (server, _) = name.split_once(SEPARATOR)?;
        self.prefixed_servers
            .iter()
            .find(|s| s.as_str() == server)
            .map(String::as_str)
    }

    /// Every prompt, in exposed-name order.
    pub fn prompts(&self) -> impl Iterator<Item = &Arc<CatalogPrompt>> {
        self.prompts.values()
    }

    /// The prompt exposed as `name`.
    pub fn prompt(&self, name: &str) -> Option<Arc<CatalogPrompt>> {
        self.prompts.get(name).cloned()
    }

    /// Every resource with its server, in server order.
    pub fn resources(&self) -> &[(String, Resource)] {
        &self.resources
    }

    /// Every resource template with its server.
    pub fn templates(&self) -> &[(String, ResourceTemplate)] {
        &self.templates
    }

    /// The server whose resource template is `template` (as written, e.g. `file:///{path}`),
    /// else the owner of `template` read as a URI.
    pub fn template_server(&self, template: &str) -> Option<&str> {
        self.templates
            .iter()
            .find(|(_, t)| t.uri_template == template)
            .map(|(server, _)| server.as_str())
            .or_else(|| self.resource_server(template))
    }

    /// The server that owns `uri`: the one listing it, else the one whose template's fixed
    /// prefix matches it.
    pub fn resource_server(&self, uri: &str) -> Option<&str> {
        if let Some(owner) = self.resource_owner.get(uri) {
            return Some(owner);
        }
        self.templates
            .iter()
            .filter(|(_, t)| {
                let fixed = t.uri_template.split('{').next().unwrap_or_default();
                !fixed.is_empty() && uri.starts_with(fixed)
            })
            .max_by_key(|(_, t)| t.uri_template.split('{').next().unwrap_or_default().len())
            .map(|(server, _)| server.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmcp::model::Tool;

    use super::*;

    fn tool(name: &str) -> Tool {
        Tool::new(name.to_owned(), "d", Arc::new(serde_json::Map::new()))
    }

    fn listing(names: &[&str]) -> Listing {
        Listing {
            tools: names.iter().map(|n| tool(n)).collect(),
            ..Listing::default()
        }
    }

    #[test]
    fn prefixes_and_orders_deterministically() {
        let c = Catalog::build(vec![
            Source {
                server: "b",
                prefix: true,
                exclude: &[],
                listing: listing(&["z", "a"]),
                withheld: Vec::new(),
            },
            Source {
                server: "a",
                prefix: true,
                exclude: &[],
                listing: listing(&["q"]),
                withheld: Vec::new(),
            },
        ])
        .unwrap();
        let names: Vec<_> = c.tools().map(|t| t.exposed.clone()).collect();
        assert_eq!(names, ["a__q", "b__a", "b__z"]);
        assert_eq!(c.tool("b__a").unwrap().upstream_name, "a");
        assert_eq!(c.server_by_prefix("b__unknown"), Some("b"));
    }

    #[test]
    fn collision_is_an_error_not_an_overwrite() {
        let err = Catalog::build(vec![
            Source {
                server: "a",
                prefix: false,
                exclude: &[],
                listing: listing(&["x"]),
                withheld: Vec::new(),
            },
            Source {
                server: "b",
                prefix: false,
                exclude: &[],
                listing: listing(&["x"]),
                withheld: Vec::new(),
            },
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("a/x") && err.to_string().contains("b/x"),
            "{err}"
        );
        let (lenient, errors) = Catalog::build_lenient(vec![
            Source {
                server: "b",
                prefix: false,
                exclude: &[],
                listing: listing(&["x"]),
                withheld: Vec::new(),
            },
            Source {
                server: "a",
                prefix: false,
                exclude: &[],
                listing: listing(&["x"]),
                withheld: Vec::new(),
            },
        ]);
        assert_eq!(errors.len(), 1);
        assert_eq!(lenient.tool("x").unwrap().server, "a");
    }

    #[test]
    fn invalid_names_and_exclusions() {
        let long = "t".repeat(70);
        let err = Catalog::build(vec![Source {
            server: "a",
            prefix: true,
            exclude: &[],
            listing: listing(&[&long]),
            withheld: Vec::new(),
        }])
        .unwrap_err();
        assert!(matches!(err, GatewayError::InvalidToolName { .. }));
        let exclude = [glob::Pattern::new("bad.*").unwrap()];
        let c = Catalog::build(vec![Source {
            server: "a",
            prefix: true,
            exclude: &exclude,
            listing: listing(&["bad.name", "ok"]),
            withheld: Vec::new(),
        }])
        .unwrap();
        assert_eq!(c.tools().count(), 1);
    }
}
