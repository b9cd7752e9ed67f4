//! Projects and API tokens: everyone signed in lists projects; admins create projects, set
//! webhook secrets, and create and revoke tokens.

use crate::model::{ApiToken, NewToken, Project};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

#[server(endpoint = "projects/list")]
pub async fn list_projects() -> Result<Vec<Project>, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Viewer).await?;
    respond(
        crate::store::projects::list(&state.db)
            .await
            .map_err(AppError::from),
    )
}

/// Creates a project; `environments` is comma-separated in promotion order (empty for
/// dev, staging, production).
#[server(endpoint = "projects/create")]
pub async fn create_project(
    slug: String,
    name: String,
    default_branch: String,
    repository_url: String,
    environments: String,
) -> Result<Project, AppError> {
    use super::guard::*;
    use crate::model::{parse_environments, Slug};
    use crate::store::projects::{self, NewProject};
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let slug = Slug::parse(&slug).map_err(|e| AppError::Invalid(format!("slug: {e}")))?;
            let environments = if environments.trim().is_empty() {
                Vec::new()
            } else {
                parse_environments(&environments)
                    .map_err(|e| AppError::Invalid(format!("environments: {e}")))?
            };
            let repository_url = repository_url.trim().trim_end_matches('/').to_string();
            if !repository_url.is_empty() && !repository_url.starts_with("https://") {
                return Err(AppError::Invalid(
                    "repository URL: must start with https://".into(),
                ));
            }
            let default_branch = default_branch.trim();
            if default_branch.is_empty() || default_branch.len() > 255 {
                return Err(AppError::Invalid(
                    "default branch: 1 to 255 characters".into(),
                ));
            }
            if name.chars().count() > 120 {
                return Err(AppError::Invalid("name: at most 120 characters".into()));
            }
            let new = NewProject {
                name: if name.trim().is_empty() {
                    slug.as_str().to_string()
                } else {
                    name.trim().to_string()
                },
                slug,
                default_branch: default_branch.to_string(),
                repository_url: (!repository_url.is_empty()).then_some(repository_url),
                environments,
            };
            Ok(projects::create(&state.db, &new, &actor(&admin)).await?)
        }
        .await,
    )
}

/// Sets the GitHub webhook secret of a project (write-only); an empty secret clears it.
#[server(endpoint = "projects/webhook_secret")]
pub async fn set_webhook_secret(project: String, secret: String) -> Result<(), AppError> {
    use super::guard::*;
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let secret = secret.trim();
            if !secret.is_empty() && secret.len() < 16 {
                return Err(AppError::Invalid(
                    "webhook secret: at least 16 characters (or empty to remove it)".into(),
                ));
            }
            let value = (!secret.is_empty()).then_some(secret);
            Ok(crate::store::projects::set_webhook_secret(
                &state.db,
                &project,
                value,
                &actor(&admin),
            )
            .await?)
        }
        .await,
    )
}

#[server(endpoint = "tokens/list")]
pub async fn list_tokens() -> Result<Vec<ApiToken>, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Admin).await?;
    respond(
        crate::store::tokens::list(&state.db, None)
            .await
            .map_err(AppError::from),
    )
}

/// Creates a token; the secret in the answer is shown once and never again.
#[server(endpoint = "tokens/create")]
pub async fn create_token(
    project: String,
    name: String,
    ingest: Option<String>,
    deploy: Option<String>,
    read: Option<String>,
) -> Result<NewToken, AppError> {
    use super::guard::*;
    use crate::model::Scope;
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let scopes: Vec<Scope> = [
                (ingest, Scope::Ingest),
                (deploy, Scope::Deploy),
                (read, Scope::Read),
            ]
            .into_iter()
            .filter(|(on, _)| on.is_some())
            .map(|(_, s)| s)
            .collect();
            Ok(
                crate::store::tokens::create(&state.db, &project, &name, &scopes, &actor(&admin))
                    .await?,
            )
        }
        .await,
    )
}

#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(token_id: i64) -> Result<ApiToken, AppError> {
    use super::guard::*;
    let (state, admin) = require(Role::Admin).await?;
    respond(
        crate::store::tokens::revoke(&state.db, token_id, &actor(&admin))
            .await
            .map_err(AppError::from),
    )
}
