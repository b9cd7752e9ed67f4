//! Routers built from a table: each route is added together with the methods it answers, so
//! the list of routes can be read back. The authorization matrix test walks that list, and a
//! route added without being listed cannot exist.

use axum::routing::MethodRouter;
use axum::Router;

/// One route as its table lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The methods the route answers (`*` for any).
    pub methods: &'static [&'static str],
    /// The path pattern, as axum matches it (`/api/v1/runs/{id}`).
    pub path: &'static str,
}

/// A router and the routes it was built from.
pub struct Table<S> {
    router: Router<S>,
    routes: Vec<Route>,
}

impl<S: Clone + Send + Sync + 'static> Default for Table<S> {
    fn default() -> Self {
        Table {
            router: Router::new(),
            routes: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Table<S> {
    /// Adds `path`, answering `methods` with `handlers`. The methods are checked against the
    /// handlers by the authorization matrix test (every other method must answer 405).
    pub fn route(
        mut self,
        methods: &'static [&'static str],
        path: &'static str,
        handlers: MethodRouter<S>,
    ) -> Self {
        self.router = self.router.route(path, handlers);
        self.routes.push(Route { methods, path });
        self
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
