//! Keeps the Terraform in `infra/` in step with the code: the DynamoDB table's schema against
//! the one `tandem-api create-table` creates ([`table`]), each Lambda's environment against
//! its binary's settings ([`environment`]), and the API role's DynamoDB actions against those
//! the store declares ([`iam`]).
//!
//! These tests read the HCL (with `hcl-rs`, through [`hcl`]) and compare what it declares,
//! literally.

mod environment;
mod hcl;
mod iam;
mod table;

use self::hcl::{attribute, infra};

#[test]
fn every_variable_has_a_description_and_a_validation_unless_it_is_a_bool() {
    // Arrange
    let terraform = infra();

    // Act
    let lacking: Vec<String> = terraform
        .blocks()
        .filter(|b| b.identifier() == "variable")
        .filter(|variable| {
            let body = variable.body();
            let is_bool = attribute(body, "type").is_some_and(|t| t.to_string() == "bool");
            attribute(body, "description").is_none()
                || (!is_bool && !body.blocks().any(|b| b.identifier() == "validation"))
        })
        .map(|variable| variable.labels()[0].as_str().to_owned())
        .collect();

    // Assert
    assert!(
        lacking.is_empty(),
        "variables without a description or validation: {lacking:?}"
    );
}
