//! The OpenAPI 3.1 description of `/api/v1/`, served at `/api/v1/openapi.json`.

use axum::Json;
use serde_json::{json, Value};

pub async fn document() -> Json<Value> {
    Json(spec())
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn errors() -> Value {
    json!({
        "401": error_response("missing, unknown or revoked token"),
        "403": error_response("the token lacks the scope or belongs to another project"),
        "404": error_response("no such project or run (in the token's project)"),
        "413": error_response("the body is over the size limit"),
        "422": error_response("the body is not valid: the message says what and where"),
        "503": error_response("the database is unavailable; retry")
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

pub fn spec() -> Value {
    let time = json!({"oneOf": [
        {"type": "string", "format": "date-time", "description": "RFC 3339"},
        {"type": "integer", "description": "epoch milliseconds UTC"}
    ]});
    let status = json!({"type": "string", "enum": ["queued", "running", "success", "failure", "cancelled", "error"]});
    let run_id =
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]);
    let report_body = |kind: &str| {
        json!({
            "required": true,
            "description": format!("{kind}, plain or gzip (`Content-Encoding: gzip` or gzip magic bytes). A retried upload of the same bytes changes nothing."),
            "content": {"application/xml": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}, "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        })
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Gatehouse API",
            "version": "1",
            "description": "For CI systems: report runs, upload JUnit and coverage reports, read runs. Every call sends `Authorization: Bearer <token>`; tokens belong to one project and carry scopes (`ingest`, `deploy`, `read`). Rates are fractions in [0, 1]. Errors are JSON `{\"error\": \"…\"}`."
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Time": time,
                "Job": {"type": "object", "required": ["name", "status"], "additionalProperties": false, "properties": {
                    "name": {"type": "string"}, "status": status,
                    "started_at": {"$ref": "#/components/schemas/Time"}, "finished_at": {"$ref": "#/components/schemas/Time"}
                }},
                "Performance": {"type": "object", "additionalProperties": false, "properties": {
                    "p50_ms": {"type": "number", "minimum": 0}, "p95_ms": {"type": "number", "minimum": 0},
                    "p99_ms": {"type": "number", "minimum": 0},
                    "error_rate": {"type": "number", "minimum": 0, "maximum": 1, "description": "fraction, 0.05 for 5%"},
                    "throughput_rps": {"type": "number", "minimum": 0}
                }},
                "Security": {"type": "object", "additionalProperties": false, "properties": {
                    "critical": {"type": "integer", "minimum": 0}, "high": {"type": "integer", "minimum": 0},
                    "medium": {"type": "integer", "minimum": 0}, "low": {"type": "integer", "minimum": 0}
                }},
                "NewRun": {"type": "object", "required": ["provider", "external_id", "status"], "additionalProperties": false, "properties": {
                    "provider": {"type": "string", "enum": ["github", "gitlab", "jenkins", "generic"]},
                    "external_id": {"type": ["string", "integer"], "description": "the CI system's run id; with provider and attempt, the idempotency key"},
                    "attempt": {"type": "integer", "minimum": 1, "default": 1},
                    "workflow": {"type": "string"}, "commit_sha": {"type": "string", "pattern": "^[0-9a-fA-F]{4,64}$"},
                    "branch": {"type": "string"}, "author": {"type": "string"}, "trigger": {"type": "string"},
                    "url": {"type": "string", "format": "uri"}, "status": status,
                    "started_at": {"$ref": "#/components/schemas/Time"}, "finished_at": {"$ref": "#/components/schemas/Time"},
                    "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                    "performance": {"$ref": "#/components/schemas/Performance"},
                    "security": {"$ref": "#/components/schemas/Security"},
                    "change_lines": {"type": "integer", "minimum": 0, "description": "lines added plus deleted by the change under test (a failure-risk feature)"},
                    "change_files": {"type": "integer", "minimum": 0, "description": "files the change touches"}
                }},
                "RunUpdate": {"type": "object", "additionalProperties": false, "properties": {
                    "status": status, "started_at": {"$ref": "#/components/schemas/Time"}, "finished_at": {"$ref": "#/components/schemas/Time"},
                    "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}, "description": "added, or updated by name"},
                    "performance": {"$ref": "#/components/schemas/Performance"}, "security": {"$ref": "#/components/schemas/Security"}
                }},
                "Run": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "project": {"type": "string"}, "provider": {"type": "string"},
                    "external_id": {"type": "string"}, "attempt": {"type": "integer"}, "workflow": {"type": "string"},
                    "commit_sha": {"type": ["string", "null"]}, "branch": {"type": ["string", "null"]},
                    "status": status, "started_at": {"type": ["string", "null"]}, "finished_at": {"type": ["string", "null"]},
                    "duration_s": {"type": ["number", "null"]},
                    "tests": {"type": "integer"}, "passed": {"type": "integer"}, "failed": {"type": "integer"},
                    "errors": {"type": "integer"}, "skipped": {"type": "integer"}, "flaky": {"type": "integer"},
                    "test_time_s": {"type": "number"}, "pass_rate": {"type": ["number", "null"], "description": "passed ÷ (passed + failed + errors)"},
                    "line_rate": {"type": ["number", "null"]}, "branch_rate": {"type": ["number", "null"]},
                    "performance": {"$ref": "#/components/schemas/Performance"}, "security": {"$ref": "#/components/schemas/Security"},
                    "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}
                }},
                "TestTotals": {"type": "object", "properties": {
                    "run_id": {"type": "integer"}, "repeated": {"type": "boolean"},
                    "tests": {"type": "integer"}, "passed": {"type": "integer"}, "failed": {"type": "integer"},
                    "errors": {"type": "integer"}, "skipped": {"type": "integer"}, "flaky": {"type": "integer"}, "time_s": {"type": "number"}
                }},
                "CoverageTotals": {"type": "object", "properties": {
                    "run_id": {"type": "integer"}, "repeated": {"type": "boolean"},
                    "line_rate": {"type": ["number", "null"]}, "branch_rate": {"type": ["number", "null"]},
                    "lines_covered": {"type": "integer"}, "lines_valid": {"type": "integer"},
                    "branches_covered": {"type": "integer"}, "branches_valid": {"type": "integer"}
                }}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/projects/{project}/runs": {"post": {
                "summary": "Report a run (scope ingest). Idempotent on (project, provider, external_id, attempt).",
                "parameters": [{"name": "project", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewRun"}}}},
                "responses": merge(json!({
                    "201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}},
                    "200": {"description": "the same run existed; nothing changed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}}
                }), errors())
            }},
            "/api/v1/runs/{id}": {
                "get": {
                    "summary": "A run with its totals (scope read).",
                    "parameters": run_id,
                    "responses": merge(json!({"200": {"description": "the run", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}}}), errors())
                },
                "patch": {
                    "summary": "A run's later state: status, times, jobs, figures (scope ingest).",
                    "parameters": run_id,
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunUpdate"}}}},
                    "responses": merge(json!({"200": {"description": "the run", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}}}), errors())
                }
            },
            "/api/v1/runs/{id}/junit": {"post": {
                "summary": "Upload a JUnit XML report (scope ingest). One count per <testcase>, by its most severe result; flakyFailure/flakyError passes count as flaky.",
                "parameters": run_id,
                "requestBody": report_body("JUnit XML"),
                "responses": merge(json!({
                    "201": {"description": "stored: the report's totals", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TestTotals"}}}},
                    "200": {"description": "the same file was stored before", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TestTotals"}}}}
                }), errors())
            }},
            "/api/v1/runs/{id}/coverage": {"post": {
                "summary": "Upload a Cobertura XML or LCOV report, detected from its content (scope ingest).",
                "parameters": run_id,
                "requestBody": report_body("Cobertura XML or LCOV"),
                "responses": merge(json!({
                    "201": {"description": "stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CoverageTotals"}}}},
                    "200": {"description": "the same file was stored before", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CoverageTotals"}}}}
                }), errors())
            }},
            "/api/v1/projects/{project}/webhooks/github": {"post": {
                "summary": "GitHub webhook deliveries. Authenticated by X-Hub-Signature-256 (HMAC-SHA256 of the body under the project's webhook secret), not by a token; deduplicated by X-GitHub-Delivery. workflow_run, workflow_job and check_suite create or update runs; push records commits; deployment and deployment_status are stored; other events are answered 202 and ignored.",
                "security": [],
                "parameters": [
                    {"name": "project", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "X-GitHub-Event", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "X-GitHub-Delivery", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "X-Hub-Signature-256", "in": "header", "required": true, "schema": {"type": "string"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": {"description": "handled (or a repeated delivery: `duplicate: true`)"},
                    "202": {"description": "accepted and ignored"},
                    "401": error_response("no webhook secret set, or the signature does not match"),
                    "422": error_response("the payload does not have the event's shape")
                }
            }},
            "/api/v1/projects/{project}/flaky-tests": {"get": {
                "summary": "Flaky tests over a window (scope read): passed on a retry within a run, or passed and failed on the same commit; runs with more than 80% of tests failing are infrastructure failures and not counted. JSON, or CSV with format=csv or Accept: text/csv.",
                "parameters": [
                    {"name": "project", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 365, "default": 14}},
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}}
                ],
                "responses": merge(json!({"200": {"description": "tests with executions, flakes, flake_rate (fraction), first/last flaked, commits, time_lost_s, quarantined"}}), errors())
            }},
            "/api/v1/projects/{project}/calibration": {"get": {
                "summary": "The failure-risk predictor's calibration report (scope read), as the calibration page shows it: counts, Brier score, ECE, ROC AUC, average precision, reliability bins, score histograms, ROC and precision-recall points, the confusion matrix and rates at the threshold with 95% Wilson intervals and targets, weekly predicted against observed failure rate with MAPE, feature drift (KS, PSI), and optionally a second version on the same runs. Rates are fractions.",
                "parameters": [
                    {"name": "project", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "a model version; the active one by default"},
                    {"name": "compare", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "another version, reported on the runs both scored"},
                    {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 730, "default": 30}},
                    {"name": "from", "in": "query", "schema": time.clone(), "description": "instead of days"},
                    {"name": "to", "in": "query", "schema": time.clone(), "description": "default now"},
                    {"name": "threshold", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 1}, "description": "the version's own by default"},
                    {"name": "binning", "in": "query", "schema": {"type": "string", "enum": ["uniform", "quantile"], "default": "uniform"}},
                    {"name": "bins", "in": "query", "schema": {"type": "integer", "minimum": 2, "maximum": 50, "default": 10}}
                ],
                "responses": merge(json!({"200": {"description": "project, model, report, compare, drift, range, definitions"}}), errors())
            }},
            "/api/v1/projects/{project}/kpis": {"get": {
                "summary": "Delivery KPIs and DORA's four keys (scope read), as the overview shows them: per KPI its value, target, at-risk boundary, band (good, at_risk, off_target, no_data), the previous period's value, a trend per bucket, and the ids of the deployments, alerts and incidents it was computed from. Fractions are 0..1, durations milliseconds; days are UTC.",
                "parameters": [
                    {"name": "project", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "environment", "in": "query", "schema": {"type": "string"}, "description": "the project's last (production) environment by default"},
                    {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 730, "default": 30}, "description": "ending today (UTC), today included"},
                    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "with to, when days is not given"},
                    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "the last day, included"}
                ],
                "responses": merge(json!({"200": {"description": "project, environment, range, kpis, dora (current, previous, definitions)"}}), errors())
            }},
            "/api/v1/projects/{project}/flags/{environment}": {"get": {
                "summary": "Feature flags of an environment for services to poll (scope read). Without key: each flag's rules (enabled, rollout now as a fraction 0..1, ramp, allow and deny lists, on_for_all) to decide locally: a key gets a flag when it is not denied and is allowed or its bucket is below the rollout; the bucket is the first 8 bytes of SHA-256(\"flag:key\") as a big-endian integer over 2^64. With key: each flag's decision for it (on, reason: off, denied, allowed, in_rollout, out_of_rollout). The answer carries a strong ETag; If-None-Match with it answers 304 without a body. A change reaches every server replica within a second.",
                "parameters": [
                    {"name": "project", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "environment", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "key", "in": "query", "schema": {"type": "string", "maxLength": 200}, "description": "a user, tenant or host id to decide every flag for"},
                    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}
                ],
                "responses": merge(json!({"200": {"description": "project, environment, key, flags by name"}, "304": {"description": "unchanged since the ETag sent"}, "400": error_response("a bad key parameter")}), errors())
            }},
            "/api/v1/projects/{project}/flags/{environment}/{flag}": {"put": {
                "summary": "Sets a feature flag in one environment (scope deploy), creating the flag (off elsewhere) when the project has none of that name. Sending the same body again changes nothing. Every change is audited.",
                "parameters": [
                    {"name": "project", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "environment", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "flag", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "required": ["enabled"],
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "rollout": {"type": "number", "minimum": 0, "maximum": 1, "description": "the share of keys that get the flag while no ramp is set (default 1, or 0 with a ramp)"},
                        "ramp": {"type": "object", "additionalProperties": false, "required": ["shape", "from", "to", "ends_at"], "properties": {
                            "shape": {"type": "string", "enum": ["linear", "steps"]},
                            "steps": {"type": "integer", "minimum": 1, "maximum": 100, "description": "for steps only"},
                            "from": {"type": "number", "minimum": 0, "maximum": 1},
                            "to": {"type": "number", "minimum": 0, "maximum": 1},
                            "starts_at": time.clone(),
                            "ends_at": time.clone()
                        }},
                        "allow": {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 1000},
                        "deny": {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 1000},
                        "description": {"type": "string", "maxLength": 500, "description": "used when this call creates the flag"}
                    }
                }}}},
                "responses": merge(json!({"201": {"description": "the flag was created and set"}, "200": {"description": "the flag was set (changed says whether anything changed)"}}), errors())
            }},
            "/api/v1/projects/{project}/incidents": {"post": {
                "summary": "Records an incident of an environment (scope deploy). Linked to the deployment that caused it, it makes that deployment a failed change; its resolution ends a recovery. Idempotent by incident_key: a retry answers 200 with the incident first recorded.",
                "parameters": [{"name": "project", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false,
                    "required": ["environment", "title", "started_at"],
                    "properties": {
                        "environment": {"type": "string"},
                        "title": {"type": "string", "maxLength": 200},
                        "severity": {"type": "string", "enum": ["info", "warning", "critical"], "default": "warning"},
                        "started_at": time.clone(),
                        "resolved_at": time.clone(),
                        "deployment_id": {"type": "integer"},
                        "incident_key": {"type": "string", "maxLength": 200}
                    }
                }}}},
                "responses": merge(json!({"201": {"description": "the incident"}, "200": {"description": "the incident first recorded with this key"}}), errors())
            }},
            "/api/v1/incidents/{id}/resolve": {"post": {
                "summary": "Marks an incident resolved (scope deploy), at resolved_at or now; resolving again keeps the first resolution.",
                "parameters": run_id.clone(),
                "requestBody": {"required": false, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false,
                    "properties": {"resolved_at": time.clone()}
                }}}},
                "responses": merge(json!({"200": {"description": "the incident"}}), errors())
            }},
            "/api/v1/projects/{project}/plans": {
                "get": {
                    "summary": "The project's rollout plans (scope read), newest first: phases done and blocked, items done, dates and the current phase.",
                    "parameters": [{"name": "project", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": merge(json!({"200": {"description": "plans"}}), errors())
                },
                "post": {
                    "summary": "Creates a rollout plan (scope deploy) from the seeds' 10-phase roadmap (template roadmap, phase 1 starting on starts_on, today by default) or from explicit phases. A criterion links to a KPI (kpi, comparator lt/le/gt/ge, threshold in the KPI's unit: fractions 0..1, milliseconds), to a gate (gate: environment and optional metric) or to neither (a person confirms it). Idempotent by plan_key: a retry answers 200 with the plan first created.",
                    "parameters": [{"name": "project", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": false, "required": ["title"],
                        "properties": {
                            "title": {"type": "string", "maxLength": 200},
                            "template": {"type": "string", "enum": ["roadmap"]},
                            "starts_on": {"type": "string", "format": "date"},
                            "environment": {"type": "string", "description": "where KPI criteria are measured; the project's last environment by default"},
                            "plan_key": {"type": "string", "maxLength": 200},
                            "phases": {"type": "array", "maxItems": 50, "items": {
                                "type": "object", "additionalProperties": false, "required": ["title"],
                                "properties": {
                                    "title": {"type": "string"}, "objective": {"type": "string"},
                                    "starts_on": {"type": "string", "format": "date"}, "due_on": {"type": "string", "format": "date"},
                                    "status": {"type": "string", "enum": ["not_started", "in_progress", "done", "blocked"]},
                                    "deliverables": {"type": "array", "items": {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}, "owner": {"type": "string"}, "done": {"type": "boolean"}}}},
                                    "checklist": {"type": "array", "items": {"type": "string"}},
                                    "criteria": {"type": "array", "items": {"type": "object", "required": ["title"], "properties": {
                                        "title": {"type": "string"}, "kpi": {"type": "string"},
                                        "comparator": {"type": "string", "enum": ["lt", "le", "gt", "ge"]}, "threshold": {"type": "number"},
                                        "gate": {"type": "object", "required": ["environment"], "properties": {"environment": {"type": "string"}, "metric": {"type": "string"}}}
                                    }}}
                                }
                            }}
                        }
                    }}}},
                    "responses": merge(json!({"201": {"description": "the plan"}, "200": {"description": "the plan first created with this key"}}), errors())
                }
            },
            "/api/v1/plans/{id}": {"get": {
                "summary": "A rollout plan (scope read) with its phases, items and criteria, each criterion judged now: holds, at_risk, fails, no_data or open (a manual criterion nobody confirmed). KPIs are measured over the last 30 days of the plan's environment; gates from the environment's latest gate evaluation.",
                "parameters": run_id.clone(),
                "responses": merge(json!({"200": {"description": "the plan"}}), errors())
            }},
            "/api/v1/plans/{id}/items/{item}": {"put": {
                "summary": "Ticks or unticks a deliverable or go-live checklist item (scope deploy). Ticking again keeps the first tick; a checklist item of a done phase cannot be unticked (409).",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                    {"name": "item", "in": "path", "required": true, "schema": {"type": "integer"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "required": ["done"],
                    "properties": {"done": {"type": "boolean"}}
                }}}},
                "responses": merge(json!({"200": {"description": "the item"}}), errors())
            }},
            "/api/v1/plans/{id}/phases/{phase}/status": {"put": {
                "summary": "Sets a phase's status (scope deploy). done needs every go-live checklist item ticked (409 names the open ones); blocked needs a note.",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                    {"name": "phase", "in": "path", "required": true, "schema": {"type": "integer"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["not_started", "in_progress", "done", "blocked"]},
                        "note": {"type": "string", "maxLength": 500}
                    }
                }}}},
                "responses": merge(json!({"200": {"description": "the phase"}}), errors())
            }},
            "/api/v1/projects/{project}/predictions": {"get": {
                "summary": "Every stored score (scope read) as CSV: run_id, external_id, started_at, model_version, score, outcome (failed, passed, pending), then one column per feature (empty when unknown), oldest run first.",
                "parameters": [
                    {"name": "project", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 730, "default": 30}},
                    {"name": "from", "in": "query", "schema": time.clone()},
                    {"name": "to", "in": "query", "schema": time.clone()},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 100000}}
                ],
                "responses": merge(json!({"200": {"description": "text/csv"}}), errors())
            }},
            "/api/v1/projects/{project}/deployments": {
                "post": {
                    "summary": "Request a deployment (scope deploy): the release (version, commit) is created on first sight; gates are evaluated at once. Idempotent: the same request_key, or the same release still pending or running in that environment, answers 200 with the existing deployment.",
                    "parameters": [{"name": "project", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["environment", "version", "commit_sha"], "additionalProperties": false,
                        "properties": {
                            "environment": {"type": "string"},
                            "version": {"type": "string", "description": "semantic version; a leading v is dropped"},
                            "commit_sha": {"type": "string", "description": "also accepted as `commit`"},
                            "git_ref": {"type": "string", "description": "branch or tag, checked against the environment's patterns; also accepted as `ref`"},
                            "strategy": {"type": "string", "enum": ["rolling", "blue_green", "canary"], "default": "rolling"},
                            "canary_steps": {"type": "array", "items": {"type": "object", "required": ["traffic"], "properties": {"traffic": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}, "pause_s": {"type": "integer", "minimum": 0}}}, "description": "default 0.1, 0.25, 0.5, 1.0 with 300 s pauses"},
                            "request_key": {"type": "string"},
                            "ci_run_id": {"type": "integer"},
                            "commits": {"type": "array", "items": {"type": "object", "required": ["sha", "message"], "properties": {"sha": {"type": "string"}, "message": {"type": "string"}, "author": {"type": "string"}, "committed_at": time.clone()}}},
                            "artifacts": {"type": "array", "items": {"type": "object", "required": ["kind", "name", "url"], "properties": {"kind": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string"}}}}
                        }}}}},
                    "responses": merge(json!({
                        "201": {"description": "the deployment: id, state, decision (go, no_go, pending), hold, gates, approvals"},
                        "200": {"description": "the deployment this request made before"},
                        "409": error_response("the version names another commit")
                    }), errors())
                },
                "get": {
                    "summary": "Deployments of the project, newest first (scope read or deploy).",
                    "parameters": [
                        {"name": "project", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "environment", "in": "query", "schema": {"type": "string"}},
                        {"name": "state", "in": "query", "schema": {"type": "string"}},
                        {"name": "before_id", "in": "query", "schema": {"type": "integer"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}}
                    ],
                    "responses": merge(json!({"200": {"description": "deployments and next_before_id"}}), errors())
                }
            },
            "/api/v1/deployments/{id}": {"get": {
                "summary": "A deployment (scope read or deploy): state; decision go / no_go / pending; what holds it (gates, approvals, wait timer, freeze) in words; the gate evaluation with every measured value, band and score; approvals given and still needed; checklist; transitions. Reading moves a pending deployment on (an elapsed timer), so polling it is how `gatehouse wait` works.",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": merge(json!({"200": {"description": "the deployment"}}), errors())
            }},
            "/api/v1/deployments/{id}/events": {"post": {
                "summary": "Report progress (scope deploy): {kind: progress, step} for a canary step reached (each step after the previous one's pause), {kind: progress, traffic} for other strategies (a fraction), {kind: succeeded}, {kind: failed, reason}, {kind: cancelled, reason}. Repeats change nothing; a deployment that may not start yet answers 409 with what holds it.",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": merge(json!({"200": {"description": "the deployment"}, "409": error_response("not started yet (the reason), a canary step too early, or the wrong state")}), errors())
            }},
            "/api/v1/deployments/{id}/health": {"post": {
                "summary": "Health samples of a running or watched deployment (scope deploy): {samples: [{at, key, error_rate, p95_ms, availability, smoke_pass_rate, healthy}]} with fractions in [0, 1]. A sample with a key already stored is skipped. Error rate above 0.05, availability below 0.95 or three failed health checks in a row roll back automatically (rollback_id).",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": merge(json!({"200": {"description": "stored, rollback_id, state"}}), errors())
            }},
            "/api/v1/deployments/{id}/rollback": {"post": {
                "summary": "Roll back (scope deploy) to the previous successful release or {to_version} (one of the last three), with a reason. The rollback skips gates, approvals and freezes; its time from decision to restored is measured against the 15-minute SLA. A rollback under way answers 200.",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": merge(json!({"201": {"description": "the rollback deployment"}, "200": {"description": "the rollback already under way"}}), errors())
            }},
            "/api/v1/openapi.json": {"get": {"summary": "This document.", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        }
    })
}
