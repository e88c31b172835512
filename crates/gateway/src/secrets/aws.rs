//! `${aws-sm:SECRET_ID}`, `${aws-sm:SECRET_ID#field}` and `?stage=STAGE` before the field: a
//! secret of AWS Secrets Manager, read through the official SDK with AWS's standard credential
//! chain (environment, shared config and credentials files with profiles, web identity for
//! Kubernetes service accounts, container and instance metadata) and region resolution.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// How long one read may take, credentials included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A reference's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSecretRef {
    /// The secret's name or ARN.
    pub id: String,
    /// `VersionStage` (`AWSCURRENT` when absent).
    pub stage: Option<String>,
    /// The field of a JSON secret; the whole string when absent.
    pub field: Option<String>,
}

impl AwsSecretRef {
    /// Parses what follows `aws-sm:`.
    pub(crate) fn parse(spec: &str) -> Result<Self, String> {
        // `#` and `?` cannot occur in a secret's name or ARN.
        let (rest, field) = match spec.split_once('#') {
            Some((rest, field)) => (rest, Some(field)),
            None => (spec, None),
        };
        let (id, stage) = match rest.split_once('?') {
            Some((id, query)) => match query.strip_prefix("stage=") {
                Some(stage) if !stage.is_empty() => (id, Some(stage)),
                _ => {
                    return Err(format!(
                        "aws-sm reference {spec:?}: the only option is ?stage=STAGE, e.g. \
                         ${{aws-sm:prod/db?stage=AWSPREVIOUS#password}}"
                    ));
                }
            },
            None => (rest, None),
        };
        if id.is_empty() || field.is_some_and(str::is_empty) {
            return Err(format!(
                "aws-sm reference {spec:?} needs a secret name or ARN, and a field after # if \
                 any: ${{aws-sm:prod/db}} or ${{aws-sm:prod/db#password}}"
            ));
        }
        Ok(Self {
            id: id.to_owned(),
            stage: stage.map(str::to_owned),
            field: field.map(str::to_owned),
        })
    }
}

impl std::fmt::Display for AwsSecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${{aws-sm:{}", self.id)?;
        if let Some(stage) = &self.stage {
            write!(f, "?stage={stage}")?;
        }
        if let Some(field) = &self.field {
            write!(f, "#{field}")?;
        }
        f.write_str("}")
    }
}

/// A secret and a version stage.
type Version = (String, Option<String>);

/// The reads of one resolution: one SDK client (credentials and region resolved once), and each
/// secret version read once however many references name it.
#[derive(Default)]
pub(crate) struct AwsSecrets {
    client: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
    read: Mutex<HashMap<Version, Arc<String>>>,
}

impl AwsSecrets {
    async fn client(&self) -> &aws_sdk_secretsmanager::Client {
        self.client
            .get_or_init(|| async {
                let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .operation_timeout(TIMEOUT)
                            .build(),
                    )
                    .load()
                    .await;
                aws_sdk_secretsmanager::Client::new(&config)
            })
            .await
    }

    /// The value `reference` names.
    ///
    /// # Errors
    /// What went wrong, naming the reference and never a value.
    pub(crate) async fn value(&self, reference: &AwsSecretRef) -> Result<String, String> {
        let string = self.secret_string(reference).await?;
        let Some(field) = &reference.field else {
            return Ok(string.as_ref().clone());
        };
        let json: serde_json::Value = serde_json::from_str(&string).map_err(|_| {
            format!("secret {reference}: the secret is not a JSON object, so it has no fields")
        })?;
        match json.get(field) {
            Some(serde_json::Value::String(value)) => Ok(value.clone()),
            Some(serde_json::Value::Null) | None => Err(format!(
                "secret {reference}: the secret has no field {field:?}"
            )),
            Some(other) => Ok(other.to_string()),
        }
    }

    async fn secret_string(&self, reference: &AwsSecretRef) -> Result<Arc<String>, String> {
        let key = (reference.id.clone(), reference.stage.clone());
        let cached = self
            .read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let answer = self
            .client()
            .await
            .get_secret_value()
            .secret_id(&reference.id)
            .set_version_stage(reference.stage.clone())
            .send()
            .await
            .map_err(|error| {
                let detail = match error.as_service_error() {
                    Some(e) if e.is_resource_not_found_exception() => {
                        "Secrets Manager has no such secret (or no version in that stage)"
                            .to_owned()
                    }
                    _ => DisplayErrorContext(&error).to_string(),
                };
                format!("secret {reference}: {detail}")
            })?;
        let string = answer.secret_string.ok_or_else(|| {
            format!("secret {reference}: the secret is binary; only string secrets are read")
        })?;
        let string = Arc::new(string);
        self.read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, string.clone());
        Ok(string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_a_stage_and_a_field() {
        let full = AwsSecretRef::parse(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf?stage=AWSPREVIOUS#password",
        )
        .unwrap();
        assert_eq!(
            full.id,
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"
        );
        assert_eq!(full.stage.as_deref(), Some("AWSPREVIOUS"));
        assert_eq!(full.field.as_deref(), Some("password"));
        let plain = AwsSecretRef::parse("prod/api-key").unwrap();
        assert_eq!((plain.stage, plain.field), (None, None));
        assert_eq!(
            AwsSecretRef::parse("prod/db#user").unwrap().to_string(),
            "${aws-sm:prod/db#user}"
        );
        for bad in [
            "",
            "#user",
            "prod/db#",
            "prod/db?version=1",
            "prod/db?stage=",
        ] {
            assert!(AwsSecretRef::parse(bad).is_err(), "{bad:?}");
        }
    }
}
