//! The table: one spec ([`TABLE`]) that `create_table` builds from and that a test compares with the
//! `AuctionTable` resource of `template.yaml`, so the local stack, the tests and AWS use the same table.

use super::errors::{build_err, store_err};
use super::keys::{GSI1, TTL_ATTRIBUTE};
use crate::ports::StoreError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use std::time::Duration;

/// A table's shape, in CloudFormation's own words (`S`/`N`, `HASH`/`RANGE`, `KEYS_ONLY`, `PAY_PER_REQUEST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub billing_mode: &'static str,
    /// `AttributeDefinitions`: (name, type).
    pub attributes: &'static [(&'static str, &'static str)],
    /// `KeySchema`: (name, key type).
    pub key_schema: &'static [(&'static str, &'static str)],
    pub indexes: &'static [IndexSpec],
    /// `TimeToLiveSpecification.AttributeName` (enabled).
    pub ttl_attribute: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub key_schema: &'static [(&'static str, &'static str)],
    pub projection: &'static str,
}

/// The auction table (README, "Table design").
pub const TABLE: TableSpec = TableSpec {
    billing_mode: "PAY_PER_REQUEST",
    attributes: &[("pk", "S"), ("sk", "S"), ("gsi1pk", "S"), ("gsi1sk", "N")],
    key_schema: &[("pk", "HASH"), ("sk", "RANGE")],
    indexes: &[IndexSpec {
        name: GSI1,
        key_schema: &[("gsi1pk", "HASH"), ("gsi1sk", "RANGE")],
        projection: "KEYS_ONLY",
    }],
    ttl_attribute: TTL_ATTRIBUTE,
};

fn key_schema(pairs: &[(&str, &str)]) -> Result<Vec<KeySchemaElement>, StoreError> {
    pairs
        .iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(*name)
                .key_type(KeyType::from(*kind))
                .build()
                .map_err(build_err)
        })
        .collect()
}

/// Create [`TABLE`] under `name`, wait until it and its index are active, and enable TTL. An existing table is
/// accepted (the function then only waits and enables TTL). The SAM template defines the same table.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let spec = &TABLE;
    let mut attributes = Vec::new();
    for (attr, kind) in spec.attributes {
        attributes.push(
            AttributeDefinition::builder()
                .attribute_name(*attr)
                .attribute_type(ScalarAttributeType::from(*kind))
                .build()
                .map_err(build_err)?,
        );
    }
    let mut indexes = Vec::new();
    for index in spec.indexes {
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection))
                        .build(),
                )
                .build()
                .map_err(build_err)?,
        );
    }
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(spec.billing_mode))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(spec.key_schema)?))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await;
    if let Err(err) = created {
        let exists = err
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception());
        if !exists {
            return Err(store_err("CreateTable", err));
        }
    }

    // Wait until ACTIVE (real DynamoDB: seconds to a minute; emulators: immediately).
    let mut active = false;
    for attempt in 0..240u32 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| store_err("DescribeTable", e))?;
        if let Some(t) = out.table() {
            let indexes_active = t
                .global_secondary_indexes()
                .iter()
                .all(|i| matches!(i.index_status(), None | Some(IndexStatus::Active)));
            if t.table_status() == Some(&TableStatus::Active) && indexes_active {
                active = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(if attempt < 10 { 100 } else { 500 })).await;
    }
    if !active {
        return Err(StoreError::Unavailable(format!(
            "table {name} did not become ACTIVE"
        )));
    }

    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(spec.ttl_attribute)
        .build()
        .map_err(build_err)?;
    if let Err(err) = client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        // "TimeToLive is already enabled" is a ValidationException; emulators without TTL answer
        // UnknownOperation / not implemented. Neither matters to correctness.
        let ignorable = err.as_service_error().is_some_and(|e| {
            matches!(
                e.code(),
                Some(
                    "ValidationException"
                        | "UnknownOperationException"
                        | "NotImplementedException"
                        | "UnsupportedOperation"
                )
            )
        });
        if !ignorable {
            return Err(store_err("UpdateTimeToLive", err));
        }
        tracing::debug!(table = name, error = %DisplayErrorContext(&err), "TTL not enabled (ignored)");
    }
    Ok(())
}
